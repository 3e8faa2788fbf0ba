{{- define "dagster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dagster.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dagster.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dagster.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dagster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dagster.labels" -}}
helm.sh/chart: {{ include "dagster.chart" . }}
{{ include "dagster.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "dagster.externalImage.name" -}}
{{- .repository -}}:{{- .tag -}}
{{- end -}}

{{/* A Dagster image without a tag runs the chart version. */}}
{{- define "dagster.dagsterImage.name" -}}
{{- $ := index . 0 -}}
{{- with index . 1 -}}
{{- $tag := .tag | default $.Chart.Version | toString -}}
{{- printf "%s:%s" .repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "dagster.webserver.fullname" -}}
{{- $name := default "webserver" .Values.dagsterWebserver.nameOverride -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dagster.postgresql.fullname" -}}
{{- if .Values.postgresql.postgresqlHost -}}
{{- .Values.postgresql.postgresqlHost -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name "postgresql" | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dagster.postgresql.secretName" -}}
{{- if .Values.global.postgresqlSecretName -}}
{{- .Values.global.postgresqlSecretName -}}
{{- else -}}
{{- printf "%s-postgresql-secret" (include "dagster.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "dagster.serviceAccountName" -}}
{{- .Values.global.serviceAccountName | default .Values.serviceAccount.name | default (include "dagster.fullname" .) -}}
{{- end -}}

{{- define "dagster.checkDbReady" -}}
- name: check-db-ready
  image: {{ include "dagster.externalImage.name" .Values.postgresql.image | quote }}
  imagePullPolicy: {{ .Values.postgresql.image.pullPolicy }}
  command: ["sh", "-c", "until pg_isready -h {{ include "dagster.postgresql.fullname" . }} -p {{ .Values.postgresql.service.port }} -U {{ .Values.postgresql.postgresqlUsername }}; do echo waiting for database; sleep 2; done;"]
{{- end -}}

{{- define "dagster.pgPasswordEnv" -}}
- name: DAGSTER_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "dagster.postgresql.secretName" . }}
      key: postgresql-password
{{- end -}}
