{{/*
The one Deployment + Service (+ ServiceAccount, HPA or KEDA ScaledObject, PDB, ServiceMonitor) partial
shared by every OctoPack gRPC service. Called with:
  dict "root" $ "c" (dict
    "component"  resource suffix and app.kubernetes.io/component label (controller, executor-python, ...)
    "module"     python -m octopack.services.<module>; env prefix OCTOPACK_<MODULE>_
    "values"     the component's values (image, port, replicas, resources, autoscaling, pdb, env, ...)
    "s3"         true: add the OCTOPACK_S3_* variables
    "podLabels"  extra pod labels (dict)
    "automountToken"  mount the ServiceAccount token (only the controller talks to the API)
    "extraEnv" / "extraVolumes" / "extraVolumeMounts"  names of templates rendering YAML lists, or ""
    "keda"       KEDA settings (dict) or empty
    optional: "env" / "volumes" / "volumeMounts" (lists), "podSpec" (extra pod spec fields),
              "securityContext" (the container's, instead of .Values.securityContext))
*/}}

{{- define "octopack.workload" -}}
{{- $root := .root }}
{{- $c := .c }}
{{- $v := $c.values }}
{{- $ctx := dict "root" $root "component" $c.component }}
{{- $name := include "octopack.componentName" $ctx }}
{{- $prefix := printf "OCTOPACK_%s_" (upper $c.module) }}
{{- $metricsPort := int $root.Values.metrics.port }}
{{- $kedaOn := and $c.keda $c.keda.enabled }}
{{- if $root.Values.serviceAccount.create }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels: {{- include "octopack.labels" $ctx | nindent 4 }}
  {{- with $root.Values.serviceAccount.annotations }}
  annotations: {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ $c.automountToken }}
{{- end }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels: {{- include "octopack.labels" $ctx | nindent 4 }}
spec:
  {{- if not (or $v.autoscaling.enabled $kedaOn) }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 3
  selector:
    matchLabels: {{- include "octopack.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "octopack.labels" $ctx | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- if $root.Values.tls.secretName }}
        octopack.io/tls-secret: {{ $root.Values.tls.secretName | quote }}
        {{- end }}
        {{- include "octopack.scrapeAnnotations" (dict "root" $root "port" $metricsPort) | nindent 8 }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "octopack.serviceAccountName" $ctx }}
      automountServiceAccountToken: {{ $c.automountToken }}
      enableServiceLinks: false
      {{- with $c.podSpec }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      securityContext: {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets: {{- toYaml . | nindent 8 }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds | default 30 }}
      containers:
        - name: {{ $c.module }}
          image: {{ include "octopack.image" (dict "root" $root "image" $v.image) | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          ports:
            - name: grpc
              containerPort: {{ $v.port }}
              protocol: TCP
            {{- if gt $metricsPort 0 }}
            - name: metrics
              containerPort: {{ $metricsPort }}
              protocol: TCP
            {{- end }}
          env:
            - name: {{ $prefix }}HOST
              value: "0.0.0.0"
            - name: {{ $prefix }}PORT
              value: {{ $v.port | quote }}
            - name: {{ $prefix }}METRICS_PORT
              value: {{ $metricsPort | quote }}
            {{- if $root.Values.auth.enabled }}
            - name: {{ $prefix }}AUTH_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {{ include "octopack.authSecretName" $root }}
                  key: token
            {{- end }}
            {{- if $root.Values.tls.secretName }}
            - name: {{ $prefix }}TLS_CERT
              value: /etc/octopack/tls/tls.crt
            - name: {{ $prefix }}TLS_KEY
              value: /etc/octopack/tls/tls.key
            {{- end }}
            {{- include "octopack.logEnv" $root | nindent 12 }}
            # Read-only root file system: caches and home go to the /tmp emptyDir.
            - name: HOME
              value: /tmp
            {{- if $c.s3 }}
            {{- include "octopack.s3Env" $root | nindent 12 }}
            {{- end }}
            {{- with $c.extraEnv }}
            {{- include . $root | nindent 12 }}
            {{- end }}
            {{- with $c.env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- range $key, $value := $v.env }}
            - name: {{ $key }}
              value: {{ $value | toString | quote }}
            {{- end }}
          {{- if $root.Values.tls.secretName }}
          # kubelet's gRPC probes speak plaintext only: with TLS on, probe the port instead.
          readinessProbe:
            tcpSocket:
              port: grpc
            periodSeconds: 10
          livenessProbe:
            tcpSocket:
              port: grpc
            periodSeconds: 20
          {{- else }}
          startupProbe:
            grpc:
              port: {{ $v.port }}
            periodSeconds: 2
            failureThreshold: 60
          readinessProbe:
            grpc:
              port: {{ $v.port }}
            periodSeconds: 10
            timeoutSeconds: 3
          livenessProbe:
            grpc:
              port: {{ $v.port }}
            periodSeconds: 20
            timeoutSeconds: 5
            failureThreshold: 3
          {{- end }}
          resources: {{- toYaml $v.resources | nindent 12 }}
          securityContext: {{- toYaml ($c.securityContext | default $root.Values.securityContext) | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with $c.volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- if $root.Values.tls.secretName }}
            - name: tls
              mountPath: /etc/octopack/tls
              readOnly: true
            {{- end }}
            {{- with $c.extraVolumeMounts }}
            {{- include . $root | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $v.tmpSizeLimit | default "1Gi" }}
        {{- with $c.volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- if $root.Values.tls.secretName }}
        - name: tls
          secret:
            secretName: {{ $root.Values.tls.secretName }}
        {{- end }}
        {{- with $c.extraVolumes }}
        {{- include . $root | nindent 8 }}
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector: {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations: {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity: {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels: {{- include "octopack.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector: {{- include "octopack.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $v.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
    {{- if gt $metricsPort 0 }}
    - name: metrics
      port: {{ $metricsPort }}
      targetPort: metrics
      protocol: TCP
    {{- end }}
{{- if $kedaOn }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $name }}
  labels: {{- include "octopack.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ $name }}
  minReplicaCount: {{ $c.keda.minReplicas }}
  maxReplicaCount: {{ $c.keda.maxReplicas }}
  pollingInterval: {{ $c.keda.pollingInterval }}
  cooldownPeriod: {{ $c.keda.cooldownPeriod }}
  triggers:
    - type: prometheus
      metadata:
        serverAddress: {{ required "executor.keda.prometheusAddress is required when KEDA is enabled" $c.keda.prometheusAddress | quote }}
        query: {{ default (printf "sum(octopack_executor_queue_depth{namespace=%q,pod=~%q})" $root.Release.Namespace (printf "%s-.*" $name)) $c.keda.query | quote }}
        threshold: {{ $c.keda.threshold | quote }}
{{- else if $v.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels: {{- include "octopack.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- if $v.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels: {{- include "octopack.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: {{ $v.pdb.maxUnavailable }}
  selector:
    matchLabels: {{- include "octopack.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- if and $root.Values.metrics.serviceMonitor.enabled (gt $metricsPort 0) }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $name }}
  labels:
    {{- include "octopack.labels" $ctx | nindent 4 }}
    {{- with $root.Values.metrics.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels: {{- include "octopack.selectorLabels" $ctx | nindent 6 }}
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ $root.Values.metrics.serviceMonitor.interval }}
{{- end }}
{{- end }}
