{{/*
Chart name, truncated to the 63 characters Kubernetes allows in a name.
*/}}
{{- define "cognito-ext-authz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. A release named like the chart (the documented install,
`helm install cognito-ext-authz ...`) gives objects the plain chart name, so the Service
is `cognito-ext-authz.<namespace>.svc.<clusterDomain>` as the Istio and Envoy examples use.
*/}}
{{- define "cognito-ext-authz.fullname" -}}
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

{{/*
Name of the headless Service (per-pod endpoints for Envoy's own HTTP/2 balancing).
*/}}
{{- define "cognito-ext-authz.headlessName" -}}
{{- printf "%s-headless" (include "cognito-ext-authz.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{/*
Name of the ConfigMap holding the process settings (AUTHZ_* environment).
*/}}
{{- define "cognito-ext-authz.settingsName" -}}
{{- printf "%s-settings" (include "cognito-ext-authz.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{/*
Name of the ConfigMap holding the policy: the chart's own, or one managed elsewhere.
*/}}
{{- define "cognito-ext-authz.policyConfigMapName" -}}
{{- if .Values.existingPolicyConfigMap }}
{{- .Values.existingPolicyConfigMap }}
{{- else }}
{{- printf "%s-policy" (include "cognito-ext-authz.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{/*
Chart label value.
*/}}
{{- define "cognito-ext-authz.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels every object carries.
*/}}
{{- define "cognito-ext-authz.labels" -}}
helm.sh/chart: {{ include "cognito-ext-authz.chart" . }}
{{ include "cognito-ext-authz.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: ext-authz
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (a Deployment selector is immutable).
*/}}
{{- define "cognito-ext-authz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cognito-ext-authz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount to use.
*/}}
{{- define "cognito-ext-authz.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cognito-ext-authz.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image reference: a digest pins the image and wins over the tag.
*/}}
{{- define "cognito-ext-authz.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
host:port for a listener; IPv6 hosts are bracketed ("::" -> "[::]:9000").
*/}}
{{- define "cognito-ext-authz.listenAddr" -}}
{{- $host := .host | toString }}
{{- if and (contains ":" $host) (not (hasPrefix "[" $host)) }}
{{- printf "[%s]:%v" $host .port }}
{{- else }}
{{- printf "%s:%v" $host .port }}
{{- end }}
{{- end }}

{{/*
The process settings, as the AUTHZ_* environment the service reads. Rendered into the
settings ConfigMap, and hashed into the pod template so that changing a setting rolls the
pods. The policy is deliberately NOT part of this: it is hot-reloaded in place.
*/}}
{{- define "cognito-ext-authz.settingsEnv" -}}
AUTHZ_LISTEN_ADDR: {{ include "cognito-ext-authz.listenAddr" (dict "host" .Values.settings.bindAddress "port" .Values.containerPorts.grpc) | quote }}
AUTHZ_ADMIN_ADDR: {{ include "cognito-ext-authz.listenAddr" (dict "host" .Values.settings.bindAddress "port" .Values.containerPorts.admin) | quote }}
AUTHZ_POLICY_PATH: "/etc/cognito-ext-authz/policy.yaml"
AUTHZ_LOG_FORMAT: {{ .Values.settings.logFormat | quote }}
RUST_LOG: {{ .Values.settings.logLevel | quote }}
AUTHZ_DRAIN_SECONDS: {{ .Values.settings.drainSeconds | int | quote }}
AUTHZ_JWKS_REFRESH_SECONDS: {{ .Values.settings.jwksRefreshSeconds | int | quote }}
AUTHZ_JWKS_COOLDOWN_SECONDS: {{ .Values.settings.jwksCooldownSeconds | int | quote }}
AUTHZ_JWKS_TIMEOUT_SECONDS: {{ .Values.settings.jwksTimeoutSeconds | int | quote }}
AUTHZ_TOKEN_CACHE_ENTRIES: {{ .Values.settings.tokenCacheEntries | int | quote }}
{{- end }}

{{/*
In-cluster DNS name of the main Service.
*/}}
{{- define "cognito-ext-authz.serviceFQDN" -}}
{{- printf "%s.%s.svc.%s" (include "cognito-ext-authz.fullname" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/*
In-cluster DNS name of the headless Service.
*/}}
{{- define "cognito-ext-authz.headlessFQDN" -}}
{{- printf "%s.%s.svc.%s" (include "cognito-ext-authz.headlessName" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}
