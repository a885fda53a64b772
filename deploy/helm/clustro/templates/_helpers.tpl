{{- define "clustro.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "clustro.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "clustro.labels" -}}
app.kubernetes.io/name: {{ include "clustro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "clustro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clustro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "clustro.checks" -}}
{{- if and (gt (int .Values.replicaCount) 1) (ne .Values.store.type "postgres") -}}
{{- fail "replicaCount > 1 requires store.type: postgres (SQLite is one file on one volume; replicas coordinate through PostgreSQL)" -}}
{{- end -}}
{{- if not (has .Values.store.type (list "sqlite" "postgres")) -}}
{{- fail "store.type must be sqlite or postgres" -}}
{{- end -}}
{{- if not (has .Values.connectionCheck (list "direct" "port-forward" "off")) -}}
{{- fail "connectionCheck must be direct, port-forward or off" -}}
{{- end -}}
{{- end -}}
