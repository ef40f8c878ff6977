{{/* Chart name, overridable. */}}
{{- define "haein.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified prefix of every resource name. */}}
{{- define "haein.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels common to every object. */}}
{{- define "haein.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "haein.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: haein
{{- end }}

{{/* Selector labels of a component; call with (dict "ctx" . "component" "operator"). */}}
{{- define "haein.selectorLabels" -}}
app.kubernetes.io/name: {{ include "haein.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "haein.operator.fullname" -}}
{{- printf "%s-operator" (include "haein.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "haein.nodeAgent.fullname" -}}
{{- printf "%s-node-agent" (include "haein.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full user name of the operator's ServiceAccount, as the API server sees it. */}}
{{- define "haein.operator.username" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "haein.operator.fullname" .) }}
{{- end }}

{{- define "haein.nodeAgent.username" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "haein.nodeAgent.fullname" .) }}
{{- end }}

{{/* Image reference; call with (dict "ctx" . "override" .Values.operator.image). */}}
{{- define "haein.image" -}}
{{- $repo := default .ctx.Values.image.repository .override.repository }}
{{- $tag := default (default .ctx.Chart.AppVersion .ctx.Values.image.tag) .override.tag }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{/* Env pointing the in-cluster config at the API server directly (clusters without kube-proxy). */}}
{{- define "haein.apiServerEnv" -}}
{{- if .Values.apiServerOverride.enabled }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ required "apiServerOverride.host is required when apiServerOverride.enabled" .Values.apiServerOverride.host | quote }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ .Values.apiServerOverride.port | quote }}
{{- end }}
{{- end }}

{{/* Container security context shared by both components: non-root, read-only, no privileges. */}}
{{- define "haein.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}
