{{- define "dagsterUserDeployments.dagsterFullname" -}}
{{- if contains "dagster" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-dagster" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dagsterUserDeployments.serviceAccountName" -}}
{{- .Values.global.serviceAccountName | default .Values.serviceAccount.name | default (printf "%s-user-deployments" (include "dagsterUserDeployments.dagsterFullname" .)) -}}
{{- end -}}
