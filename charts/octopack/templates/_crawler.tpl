{{/* What only the crawler gets: its network policy (services/crawler/policy.py), from crawler.git, and
     where it submits its Ray jobs (octopack.data.env). */}}

{{- define "octopack.crawler.env" -}}
{{- $git := .Values.crawler.git }}
- name: OCTOPACK_CRAWLER_GIT_SCHEMES
  value: {{ join "," $git.schemes | quote }}
- name: OCTOPACK_CRAWLER_GIT_HOSTS
  value: {{ join "," $git.hosts | quote }}
- name: OCTOPACK_CRAWLER_GIT_ALLOW_PRIVATE
  value: {{ $git.allowPrivate | toString | quote }}
- name: OCTOPACK_CRAWLER_GIT_ALLOW_LOCAL_PATHS
  value: {{ $git.allowLocalPaths | toString | quote }}
{{ include "octopack.data.env" (dict "root" . "prefix" "OCTOPACK_CRAWLER_") }}
{{- end }}
