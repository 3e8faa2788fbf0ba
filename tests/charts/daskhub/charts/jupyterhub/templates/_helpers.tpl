{{- define "jupyterhub.fullname" -}}
{{- if .Values.fullnameOverride -}}{{ .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "jupyterhub.fullname.dash" -}}
{{- with include "jupyterhub.fullname" . -}}{{ . }}-{{- end -}}
{{- end -}}

{{- define "jupyterhub.hub.fullname" -}}{{ include "jupyterhub.fullname.dash" . }}hub{{- end -}}
{{- define "jupyterhub.proxy.fullname" -}}{{ include "jupyterhub.fullname.dash" . }}proxy{{- end -}}
{{- define "jupyterhub.proxy-api.fullname" -}}{{ include "jupyterhub.proxy.fullname" . }}-api{{- end -}}
{{- define "jupyterhub.proxy-public.fullname" -}}{{ include "jupyterhub.proxy.fullname" . }}-public{{- end -}}
{{- define "jupyterhub.hub-pvc.fullname" -}}{{ include "jupyterhub.hub.fullname" . }}-db-dir{{- end -}}
{{- define "jupyterhub.singleuser.fullname" -}}{{ include "jupyterhub.fullname.dash" . }}singleuser{{- end -}}
{{- define "jupyterhub.user-scheduler-deploy.fullname" -}}{{ include "jupyterhub.fullname.dash" . }}user-scheduler{{- end -}}

{{/* Cluster-wide names: derived from the release name when fullname is empty. */}}
{{- define "jupyterhub.user-scheduler.fullname" -}}
{{- if include "jupyterhub.fullname" . -}}
{{- include "jupyterhub.user-scheduler-deploy.fullname" . -}}
{{- else -}}
{{- .Release.Name }}-user-scheduler
{{- end -}}
{{- end -}}

{{- define "jupyterhub.priority.fullname" -}}
{{- if include "jupyterhub.fullname" . -}}
{{- include "jupyterhub.fullname" . }}
{{- else -}}
{{- .Release.Name }}-default-priority
{{- end -}}
{{- end -}}

{{- define "jupyterhub.image" -}}
{{- .name }}{{ with .tag }}:{{ . }}{{ end -}}
{{- end -}}

{{- define "jupyterhub.labels" -}}
component: {{ .component }}
app: jupyterhub
release: {{ .ctx.Release.Name }}
{{- end -}}

{{/* A value kept stable: explicit value, else the one already in the hub Secret, else new. */}}
{{- define "jupyterhub.managedSecret" -}}
{{- $ := index . 0 -}}
{{- $key := index . 1 -}}
{{- $explicit := index . 2 -}}
{{- if $explicit -}}
{{- $explicit -}}
{{- else -}}
{{- $state := lookup "v1" "Secret" $.Release.Namespace (include "jupyterhub.hub.fullname" $) | default (dict "data" (dict)) -}}
{{- if hasKey $state.data $key -}}
{{- index $state.data $key | b64dec -}}
{{- else -}}
{{- randAlphaNum 64 | sha256sum -}}
{{- end -}}
{{- end -}}
{{- end -}}
