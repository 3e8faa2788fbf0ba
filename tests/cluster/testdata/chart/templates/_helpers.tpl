{{- define "cluster-smoke.labels" -}}
app.kubernetes.io/name: cluster-smoke
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
