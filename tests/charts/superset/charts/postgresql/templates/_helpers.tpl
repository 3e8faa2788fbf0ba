{{- define "postgresql.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "postgresql.image" -}}
{{- $registry := .Values.global.imageRegistry | default .Values.image.registry -}}
{{- printf "%s/%s:%s" $registry .Values.image.repository (toString .Values.image.tag) -}}
{{- end -}}

{{- define "postgresql.secretName" -}}
{{- .Values.global.postgresql.auth.existingSecret | default .Values.auth.existingSecret | default (include "postgresql.fullname" .) -}}
{{- end -}}

{{- define "postgresql.adminPasswordKey" -}}
{{- .Values.global.postgresql.auth.secretKeys.adminPasswordKey | default .Values.auth.secretKeys.adminPasswordKey -}}
{{- end -}}

{{- define "postgresql.userPasswordKey" -}}
{{- .Values.global.postgresql.auth.secretKeys.userPasswordKey | default .Values.auth.secretKeys.userPasswordKey -}}
{{- end -}}

{{- define "postgresql.username" -}}
{{- .Values.global.postgresql.auth.username | default .Values.auth.username -}}
{{- end -}}

{{/* Keep a generated password stable across upgrades, as bitnami does. */}}
{{- define "postgresql.managedPassword" -}}
{{- $existing := lookup "v1" "Secret" .context.Release.Namespace (include "postgresql.fullname" .context) -}}
{{- if .value -}}
{{- .value -}}
{{- else if and $existing (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 10 -}}
{{- end -}}
{{- end -}}
