{{/* Names and labels. */}}
{{- define "meetbridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "meetbridge.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "meetbridge.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "meetbridge.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "meetbridge.fullname" .)) -}}
{{- end -}}

{{- define "meetbridge.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* What every meetbridge container is told: settings as variables, secrets as files. */}}
{{- define "meetbridge.environment" -}}
- name: MEETBRIDGE_HOST
  value: "0.0.0.0"
- name: MEETBRIDGE_PORT
  value: {{ .Values.service.port | quote }}
- name: MEETBRIDGE_PUBLIC_URL
  value: {{ required "publicUrl is required (https://...)" .Values.publicUrl | quote }}
- name: MEETBRIDGE_MATTERMOST_URL
  value: {{ required "mattermost.url is required" .Values.mattermost.url | quote }}
{{- with .Values.mattermost.publicUrl }}
- name: MEETBRIDGE_MATTERMOST_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
- name: MEETBRIDGE_MATTERMOST_TOKEN_FILE
  value: /run/secrets/meetbridge/mattermost-token
- name: MEETBRIDGE_SECRET_KEY_FILE
  value: /run/secrets/meetbridge/secret-key
- name: MEETBRIDGE_METRICS_TOKEN_FILE
  value: /run/secrets/meetbridge/metrics-token
{{- if .Values.database.url }}
- name: MEETBRIDGE_DATABASE_URL
  value: {{ .Values.database.url | quote }}
- name: MEETBRIDGE_DATABASE_PASSWORD_FILE
  value: /run/secrets/meetbridge/database-password
{{- end }}
{{- if .Values.livekit.enabled }}
- name: MEETBRIDGE_LIVEKIT_URL
  value: {{ required "livekit.url is required with livekit.enabled" .Values.livekit.url | quote }}
- name: MEETBRIDGE_LIVEKIT_API_KEY
  value: {{ required "livekit.apiKey is required with livekit.enabled" .Values.livekit.apiKey | quote }}
- name: MEETBRIDGE_LIVEKIT_API_SECRET_FILE
  value: /run/secrets/meetbridge/livekit-api-secret
{{- with .Values.livekit.turnDomain }}
- name: MEETBRIDGE_TURN_DOMAIN
  value: {{ . | quote }}
{{- end }}
{{- end }}
- name: MEETBRIDGE_LOG_FORMAT
  value: json
- name: MEETBRIDGE_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "meetbridge.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ include "meetbridge.secretName" . }}
    defaultMode: 0400
    optional: false  # no pod without its secrets
{{- end -}}
