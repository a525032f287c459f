{{/* What only the controller gets: where the other services are and the RayJob template it fills in. */}}

{{- define "octopack.controller.env" -}}
- name: OCTOPACK_CONTROLLER_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if .Values.finetune.enabled }}
- name: OCTOPACK_CONTROLLER_RAYJOB_TEMPLATE
  value: /etc/octopack/rayjob/rayjob.yaml
{{- end }}
- name: OCTOPACK_CONTROLLER_DATASETS_ADDRESS
  value: {{ include "octopack.address" (dict "root" . "component" "datasets" "port" .Values.datasets.port) | quote }}
- name: OCTOPACK_CONTROLLER_CRAWLER_ADDRESS
  value: {{ include "octopack.address" (dict "root" . "component" "crawler" "port" .Values.crawler.port) | quote }}
- name: OCTOPACK_CONTROLLER_FILTER_ADDRESS
  value: {{ include "octopack.address" (dict "root" . "component" "filter" "port" .Values.filter.port) | quote }}
{{- $executors := list }}
{{- range $lang := include "octopack.executorLanguages" . | fromJsonArray }}
{{- $over := index $.Values.executor.languages $lang | default dict }}
{{- $port := ternary $over.port $.Values.executor.port (hasKey $over "port") }}
{{- $executors = append $executors (printf "%s=%s" $lang (include "octopack.address" (dict "root" $ "component" (printf "executor-%s" $lang) "port" $port))) }}
{{- end }}
# language=host:port,... ; the controller scales these Deployments through deployments/scale.
- name: OCTOPACK_CONTROLLER_EXECUTOR_ADDRESSES
  value: {{ join "," $executors | quote }}
# Labels of the executor Deployments themselves (octopack.io/role is on their pods only).
{{- $components := list }}
{{- range $lang := include "octopack.executorLanguages" . | fromJsonArray }}
{{- $components = append $components (printf "executor-%s" $lang) }}
{{- end }}
- name: OCTOPACK_CONTROLLER_EXECUTOR_SELECTOR
  value: {{ ternary (printf "app.kubernetes.io/instance=%s,app.kubernetes.io/component in (%s)" .Release.Name (join "," $components)) "" (gt (len $components) 0) | quote }}
- name: OCTOPACK_CONTROLLER_BACKEND
  value: kubernetes
- name: OCTOPACK_CONTROLLER_STORE
  value: s3
# Image of the stage Jobs, RayJobs and RayServices the controller creates.
- name: OCTOPACK_CONTROLLER_IMAGE
  value: {{ include "octopack.image" (dict "root" . "image" (ternary .Values.controller.stageImage .Values.ray.image (ne .Values.controller.stageImage.repository ""))) | quote }}
# Stage Jobs: S3 credentials from the chart's Secret, the chart's hardening, release and client labels.
- name: OCTOPACK_CONTROLLER_S3_SECRET_NAME
  value: {{ include "octopack.s3SecretName" . | quote }}
{{- if .Values.auth.enabled }}
# Stage pods send the services' bearer token (the evaluate stage calls the executors).
- name: OCTOPACK_CONTROLLER_AUTH_SECRET_NAME
  value: {{ include "octopack.authSecretName" . | quote }}
{{- end }}
- name: OCTOPACK_CONTROLLER_STAGE_SERVICE_ACCOUNT
  value: {{ include "octopack.serviceAccountName" (dict "root" . "component" "stage") | quote }}
- name: OCTOPACK_CONTROLLER_STAGE_POD_LABELS
  value: {{ dict "app.kubernetes.io/instance" .Release.Name "app.kubernetes.io/part-of" "octopack" | toJson | quote }}
- name: OCTOPACK_CONTROLLER_EXECUTOR_CLIENT_LABEL
  value: {{ .Values.networkPolicy.executorClientLabel | quote }}
- name: OCTOPACK_CONTROLLER_STAGE_RESOURCES
  value: {{ .Values.controller.stage.resources | toJson | quote }}
- name: OCTOPACK_CONTROLLER_STAGE_TMP_SIZE
  value: {{ .Values.controller.stage.tmpSizeLimit | quote }}
# The stage image is the Ray image (uid 1000) unless controller.stageImage names an OctoPack image (uid 10001).
- name: OCTOPACK_CONTROLLER_STAGE_POD_SECURITY_CONTEXT
  value: {{ ternary .Values.podSecurityContext .Values.ray.podSecurityContext (ne .Values.controller.stageImage.repository "") | toJson | quote }}
- name: OCTOPACK_CONTROLLER_STAGE_SECURITY_CONTEXT
  value: {{ .Values.securityContext | toJson | quote }}
- name: OCTOPACK_CONTROLLER_RAY_IMAGE
  value: {{ include "octopack.image" (dict "root" . "image" .Values.ray.image) | quote }}
- name: OCTOPACK_CONTROLLER_RAY_VERSION
  value: {{ .Values.ray.version | quote }}
{{- if .Values.inference.enabled }}
- name: OCTOPACK_CONTROLLER_RAYSERVICE_CLUSTER_TEMPLATE
  value: /etc/octopack/rayjob/rayservice-cluster.yaml
{{- end }}
- name: OCTOPACK_CONTROLLER_WORK_DIR
  value: /tmp/work
- name: OCTOPACK_CONTROLLER_RESULTS_DIR
  value: /tmp/results
- name: OCTOPACK_CONTROLLER_SERVE_GRPC_PORT
  value: {{ .Values.inference.grpcPort | quote }}
- name: OCTOPACK_CONTROLLER_SERVE_HTTP_PORT
  value: {{ .Values.inference.httpPort | quote }}
{{- if .Values.inference.enabled }}
- name: OCTOPACK_CONTROLLER_INFERENCE_ADDRESS
  # KubeRay names the Serve Service <rayservice>-serve-svc and puts the head's serve and serve-* ports on it.
  value: {{ include "octopack.inferenceAddress" . | quote }}
{{- end }}
{{- end }}

{{- define "octopack.controller.volumes" -}}
{{- if or .Values.finetune.enabled .Values.inference.enabled }}
- name: rayjob-template
  configMap:
    name: {{ include "octopack.componentName" (dict "root" . "component" "rayjob-template") }}
{{- end }}
{{- end }}

{{- define "octopack.controller.volumeMounts" -}}
{{- if or .Values.finetune.enabled .Values.inference.enabled }}
- name: rayjob-template
  mountPath: /etc/octopack/rayjob
  readOnly: true
{{- end }}
{{- end }}
