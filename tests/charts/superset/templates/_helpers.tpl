{{- define "superset.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "superset.fullname" -}}
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

{{- define "superset.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "superset.fullname" .) .Values.serviceAccountName -}}
{{- else -}}
{{- default "default" .Values.serviceAccountName -}}
{{- end -}}
{{- end -}}

{{- define "superset.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "superset-config" }}
import os
from flask_caching.backends.rediscache import RedisCache

def env(key, default=None):
    return os.getenv(key, default)

MAPBOX_API_KEY = env('MAPBOX_API_KEY', '')
CACHE_CONFIG = {
      'CACHE_TYPE': 'RedisCache',
      'CACHE_DEFAULT_TIMEOUT': 300,
      'CACHE_KEY_PREFIX': 'superset_',
      'CACHE_REDIS_HOST': env('REDIS_HOST'),
      'CACHE_REDIS_PORT': env('REDIS_PORT'),
      'CACHE_REDIS_PASSWORD': env('REDIS_PASSWORD'),
      'CACHE_REDIS_DB': env('REDIS_DB', 1),
}
DATA_CACHE_CONFIG = CACHE_CONFIG

SQLALCHEMY_DATABASE_URI = f"postgresql+psycopg2://{env('DB_USER')}:{env('DB_PASS')}@{env('DB_HOST')}:{env('DB_PORT')}/{env('DB_NAME')}"
SQLALCHEMY_TRACK_MODIFICATIONS = True

class CeleryConfig:
  imports  = ("superset.sql_lab", )
  {{- if .Values.supersetNode.connections.redis_password }}
  broker_url = f"redis://:{env('REDIS_PASSWORD')}@{env('REDIS_HOST')}:{env('REDIS_PORT')}/0"
  result_backend = f"redis://:{env('REDIS_PASSWORD')}@{env('REDIS_HOST')}:{env('REDIS_PORT')}/0"
  {{- else }}
  broker_url = f"redis://{env('REDIS_HOST')}:{env('REDIS_PORT')}/0"
  result_backend = f"redis://{env('REDIS_HOST')}:{env('REDIS_PORT')}/0"
  {{- end }}

CELERY_CONFIG = CeleryConfig
RESULTS_BACKEND = RedisCache(
      host=env('REDIS_HOST'),
      {{- if .Values.supersetNode.connections.redis_password }}
      password=env('REDIS_PASSWORD'),
      {{- end }}
      port=env('REDIS_PORT'),
      key_prefix='superset_results'
)

{{ if .Values.configOverrides }}
# Overrides
{{- range $key, $value := .Values.configOverrides }}
# {{ $key }}
{{ tpl $value $ }}
{{- end }}
{{- end }}
{{- end }}

{{- define "superset.podSpecCommon" -}}
{{- if or .Values.serviceAccount.create .Values.serviceAccountName }}
serviceAccountName: {{ include "superset.serviceAccountName" . }}
{{- end }}
securityContext:
  runAsUser: {{ .Values.runAsUser }}
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "superset.env" -}}
{{- if or .Values.extraEnv .Values.extraEnvRaw }}
env:
  {{- range $key, $value := .Values.extraEnv }}
  - name: {{ $key | quote }}
    value: {{ $value | quote }}
  {{- end }}
  {{- with .Values.extraEnvRaw }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
envFrom:
  - secretRef:
      name: {{ tpl .Values.envFromSecret . | quote }}
  {{- range .Values.envFromSecrets }}
  - secretRef:
      name: {{ tpl . $ | quote }}
  {{- end }}
{{- end -}}

{{- define "superset.volumeMounts" -}}
volumeMounts:
  - name: superset-config
    mountPath: {{ .Values.configMountPath | quote }}
    readOnly: true
  {{- if .Values.extraConfigs }}
  - name: superset-extra-config
    mountPath: {{ .Values.extraConfigMountPath | quote }}
    readOnly: true
  {{- end }}
  {{- with .Values.extraVolumeMounts }}
  {{- tpl (toYaml .) $ | nindent 2 }}
  {{- end }}
{{- end -}}

{{- define "superset.volumes" -}}
volumes:
  - name: superset-config
    secret:
      secretName: {{ tpl .Values.configFromSecret . }}
  {{- if .Values.extraConfigs }}
  - name: superset-extra-config
    configMap:
      name: {{ template "superset.fullname" . }}-extra-config
  {{- end }}
  {{- with .Values.extraVolumes }}
  {{- tpl (toYaml .) $ | nindent 2 }}
  {{- end }}
{{- end -}}
