{{/* Names and labels, in the style of kuberay's helm-chart. */}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "octopack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: the release name when it already contains the chart name
(`helm install octopack charts/octopack` gives octopack-controller, octopack-executor-python, ...).
Kept to 40 characters so "<fullname>-executor-python-metrics"-style names stay under 63.
*/}}
{{- define "octopack.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart label: name-version. */}}
{{- define "octopack.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select a component's pods: dict "root" $ "component" NAME. */}}
{{- define "octopack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "octopack.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Every label of a component's resources: dict "root" $ "component" NAME. */}}
{{- define "octopack.labels" -}}
helm.sh/chart: {{ include "octopack.chart" .root }}
{{ include "octopack.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: octopack
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Name of a component's resources: dict "root" $ "component" NAME. */}}
{{- define "octopack.componentName" -}}
{{- printf "%s-%s" (include "octopack.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* ServiceAccount of a component: dict "root" $ "component" NAME. */}}
{{- define "octopack.serviceAccountName" -}}
{{- if .root.Values.serviceAccount.create }}
{{- include "octopack.componentName" . }}
{{- else }}
{{- default "default" .root.Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: dict "root" $ "image" {repository, tag}. The global image.registry is prefixed when set;
the tag falls back to image.tag, then to the chart's appVersion. A tag may carry "@sha256:..." (skaffold).
*/}}
{{- define "octopack.image" -}}
{{- $registry := .root.Values.image.registry }}
{{- $repo := .image.repository }}
{{- $tag := default (default .root.Chart.AppVersion .root.Values.image.tag) .image.tag }}
{{- if $registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" $registry) $repo $tag }}
{{- else }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
{{- end }}

{{/* Executor languages that are enabled, sorted: a list of names. Use with fromJsonArray. */}}
{{- define "octopack.executorLanguages" -}}
{{- $enabled := list }}
{{- if .Values.executor.enabled }}
{{- range $lang, $spec := .Values.executor.languages }}
{{- $spec = $spec | default dict }}
{{- if or (not (hasKey $spec "enabled")) $spec.enabled }}
{{- $enabled = append $enabled $lang }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson (sortAlpha $enabled) }}
{{- end }}

{{/* gRPC address (host:port) of a component Service: dict "root" $ "component" NAME "port" PORT. */}}
{{- define "octopack.address" -}}
{{- printf "%s.%s.svc:%v" (include "octopack.componentName" .) .root.Release.Namespace .port }}
{{- end }}

{{/* Name of the Secret with the S3 credentials (keys accessKey, secretKey). */}}
{{- define "octopack.s3SecretName" -}}
{{- if .Values.s3.existingSecret }}
{{- .Values.s3.existingSecret }}
{{- else if .Values.minio.enabled }}
{{- include "octopack.componentName" (dict "root" . "component" "s3") }}
{{- else }}
{{- fail "s3.existingSecret is required when minio.enabled=false: name a Secret with keys accessKey and secretKey" }}
{{- end }}
{{- end }}

{{/* S3 endpoint (host:port) the services use: the chart's MinIO or s3.endpoint. */}}
{{- define "octopack.s3Endpoint" -}}
{{- if .Values.minio.enabled }}
{{- printf "%s.%s.svc:%v" (include "octopack.componentName" (dict "root" . "component" "minio")) .Release.Namespace .Values.minio.port }}
{{- else }}
{{- required "s3.endpoint is required when minio.enabled=false (host:port of the S3 server)" .Values.s3.endpoint }}
{{- end }}
{{- end }}

{{/* OCTOPACK_S3_* environment variables. */}}
{{- define "octopack.s3Env" -}}
- name: OCTOPACK_S3_ENDPOINT
  value: {{ include "octopack.s3Endpoint" . | quote }}
- name: OCTOPACK_S3_BUCKET
  value: {{ .Values.s3.bucket | quote }}
- name: OCTOPACK_S3_SECURE
  value: {{ and .Values.s3.secure (not .Values.minio.enabled) | toString | quote }}
- name: OCTOPACK_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "octopack.s3SecretName" . }}
      key: accessKey
- name: OCTOPACK_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "octopack.s3SecretName" . }}
      key: secretKey
{{- end }}

{{/* Name of the Secret holding the bearer token (key "token"). */}}
{{- define "octopack.authSecretName" -}}
{{- default (include "octopack.componentName" (dict "root" . "component" "auth")) .Values.auth.existingSecret }}
{{- end }}

{{/* OCTOPACK_LOG_* environment variables. */}}
{{- define "octopack.logEnv" -}}
- name: OCTOPACK_LOG_JSON
  value: {{ ternary "1" "0" .Values.log.json | quote }}
- name: OCTOPACK_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
{{- end }}

{{/* Prometheus scrape annotations for a pod: dict "root" $ "port" PORT. */}}
{{- define "octopack.scrapeAnnotations" -}}
{{- if and .root.Values.metrics.podAnnotations (gt (int .port) 0) }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* gRPC address of the inference RayService: KubeRay's serve Service, which carries the head's serve-grpc port. */}}
{{- define "octopack.inferenceAddress" -}}
{{- printf "%s-serve-svc.%s.svc:%v" (include "octopack.componentName" (dict "root" . "component" "inference")) .Release.Namespace .Values.inference.grpcPort }}
{{- end }}

{{/*
Serve's ports on a Ray head container and on the RayService's serveService: KubeRay (1.6+) puts the head ports
named serve and serve-* on <rayservice>-serve-svc; gRPC is marked h2c. Use with fromJson: {container, service}.
*/}}
{{- define "octopack.servePorts" -}}
{{- $i := .Values.inference }}
{{- toJson (dict
  "container" (list (dict "name" "serve" "containerPort" (int $i.httpPort)) (dict "name" "serve-grpc" "containerPort" (int $i.grpcPort)))
  "service" (list
    (dict "name" "serve" "port" (int $i.httpPort) "targetPort" (int $i.httpPort) "protocol" "TCP")
    (dict "name" "serve-grpc" "port" (int $i.grpcPort) "targetPort" (int $i.grpcPort) "protocol" "TCP" "appProtocol" "kubernetes.io/h2c"))) }}
{{- end }}
