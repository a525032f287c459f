{{/*
Pod template of a Ray head or worker group, shared by the RayService (inference) and the RayJob template
(finetuning). Called with dict "root" $ "component" NAME "role" "head"|"worker" "group" GROUP-VALUES
"ports" LIST-OF-{name,containerPort}. Ray writes only under /tmp (session dirs, logs, spilling) and
/dev/shm (object store), so the root file system stays read-only.
*/}}
{{- define "octopack.ray.pod" -}}
{{- $root := .root }}
{{- $g := .group }}
{{- $ctx := dict "root" $root "component" .component }}
{{- $gpus := int ($g.gpus | default 0) }}
metadata:
  labels:
    {{- include "octopack.labels" $ctx | nindent 4 }}
    octopack.io/role: ray-{{ .role }}
  {{- with $root.Values.ray.metricsPort }}
  annotations:
    {{- include "octopack.scrapeAnnotations" (dict "root" $root "port" .) | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "octopack.serviceAccountName" (dict "root" $root "component" "ray") }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  securityContext: {{- toYaml $root.Values.ray.podSecurityContext | nindent 4 }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets: {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: ray-{{ .role }}
      image: {{ include "octopack.image" (dict "root" $root "image" $root.Values.ray.image) | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      {{- with .ports }}
      ports: {{- toYaml . | nindent 8 }}
      {{- end }}
      env:
        {{- include "octopack.logEnv" $root | nindent 8 }}
        {{- include "octopack.s3Env" $root | nindent 8 }}
        - name: XDG_CACHE_HOME
          value: /tmp/cache
        - name: HF_HOME
          value: /tmp/cache/huggingface
        - name: HF_HUB_OFFLINE
          value: "1"
        {{- range $key, $value := $root.Values.ray.env }}
        - name: {{ $key }}
          value: {{ $value | toString | quote }}
        {{- end }}
      resources:
        requests:
          {{- toYaml $g.resources.requests | nindent 10 }}
          {{- if gt $gpus 0 }}
          nvidia.com/gpu: {{ $gpus }}
          {{- end }}
        limits:
          {{- toYaml $g.resources.limits | nindent 10 }}
          {{- if gt $gpus 0 }}
          nvidia.com/gpu: {{ $gpus }}
          {{- end }}
      securityContext: {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: shm
          mountPath: /dev/shm
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $g.tmpSizeLimit | default "20Gi" }}
    - name: shm
      emptyDir:
        medium: Memory
        sizeLimit: {{ $g.shmSize | default "2Gi" }}
  {{- with $g.nodeSelector }}
  nodeSelector: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if or $g.tolerations (gt $gpus 0) }}
  tolerations:
    {{- with $g.tolerations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if gt $gpus 0 }}
    # GPU nodes are commonly tainted nvidia.com/gpu:NoSchedule.
    - key: nvidia.com/gpu
      operator: Exists
      effect: NoSchedule
    {{- end }}
  {{- end }}
  {{- with $g.affinity }}
  affinity: {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* A RayCluster spec (head + one worker group): dict "root" $ "component" NAME "spec" VALUES "headPorts" LIST. */}}
{{- define "octopack.ray.cluster" -}}
{{- $root := .root }}
{{- $s := .spec }}
rayVersion: {{ $root.Values.ray.version | quote }}
enableInTreeAutoscaling: {{ $s.autoscaler.enabled }}
{{- if $s.autoscaler.enabled }}
autoscalerOptions:
  upscalingMode: Default
  idleTimeoutSeconds: {{ $s.autoscaler.idleTimeoutSeconds }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  resources: {{- toYaml $s.autoscaler.resources | nindent 4 }}
  securityContext: {{- toYaml $root.Values.securityContext | nindent 4 }}
{{- end }}
headGroupSpec:
  serviceType: ClusterIP
  rayStartParams:
    dashboard-host: "0.0.0.0"
    # No work on the head: Serve replicas and train workers go to the worker group.
    num-cpus: "0"
    {{- with $root.Values.ray.metricsPort }}
    metrics-export-port: {{ . | quote }}
    {{- end }}
  template:
    {{- include "octopack.ray.pod" (dict "root" $root "component" .component "role" "head" "group" $s.head "ports" .headPorts) | nindent 4 }}
workerGroupSpecs:
  - groupName: {{ $s.worker.groupName }}
    replicas: {{ $s.worker.replicas }}
    minReplicas: {{ $s.worker.minReplicas }}
    maxReplicas: {{ $s.worker.maxReplicas }}
    rayStartParams:
      {{- with $root.Values.ray.metricsPort }}
      metrics-export-port: {{ . | quote }}
      {{- else }}
      {}
      {{- end }}
    template:
      {{- $ports := list }}
      {{- with $root.Values.ray.metricsPort }}
      {{- $ports = list (dict "name" "metrics" "containerPort" .) }}
      {{- end }}
      {{- include "octopack.ray.pod" (dict "root" $root "component" .component "role" "worker" "group" $s.worker "ports" $ports) | nindent 6 }}
{{- end }}

{{/* Ports of a Ray head container; extra: LIST appended (Serve's HTTP and gRPC). */}}
{{- define "octopack.ray.headPorts" -}}
{{- $ports := list (dict "name" "gcs-server" "containerPort" 6379) (dict "name" "dashboard" "containerPort" 8265) (dict "name" "client" "containerPort" 10001) }}
{{- with .root.Values.ray.metricsPort }}
{{- $ports = append $ports (dict "name" "metrics" "containerPort" .) }}
{{- end }}
{{- toJson (concat $ports .extra) }}
{{- end }}
