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
The revocation list as the file the service reads (`revocations: [...]`), when
`revocations` is a list; nothing when it is null (no list).
*/}}
{{- define "cognito-ext-authz.revocationsYaml" -}}
{{- if kindIs "slice" .Values.revocations }}
{{- toYaml (dict "revocations" .Values.revocations) }}
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
{{ include "cognito-ext-authz.labelsFor" (dict "context" . "component" "ext-authz") }}
{{- end }}

{{/*
Labels of an object with another component (the policy-check hook, the helm test),
called with a dict of "context" (the root context) and "component".
*/}}
{{- define "cognito-ext-authz.labelsFor" -}}
{{- $ := .context -}}
helm.sh/chart: {{ include "cognito-ext-authz.chart" $ }}
{{ include "cognito-ext-authz.selectorLabels" $ }}
app.kubernetes.io/version: {{ $.Values.image.tag | default $.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
{{- with $.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Pod labels of the chart's short-lived pods (policy-check hook, helm test). They carry no
app.kubernetes.io/name, so the Service, the PodDisruptionBudget, the NetworkPolicy and
the topology spread, which all select on name and instance, never count them. They do
carry commonLabels, like every other object and pod of the release.
*/}}
{{- define "cognito-ext-authz.auxPodLabels" -}}
helm.sh/chart: {{ include "cognito-ext-authz.chart" .context }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/part-of: {{ include "cognito-ext-authz.name" .context }}
app.kubernetes.io/component: {{ .component }}
{{- with .context.Values.commonLabels }}
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
{{- if .Values.httpAuth.enabled }}
AUTHZ_HTTP_AUTH_ADDR: {{ include "cognito-ext-authz.listenAddr" (dict "host" .Values.settings.bindAddress "port" .Values.containerPorts.httpAuth) | quote }}
{{- end }}
{{- if .Values.policyConfigMaps }}
AUTHZ_POLICY_PATH: "/etc/cognito-ext-authz-policies"
{{- else }}
AUTHZ_POLICY_PATH: "/etc/cognito-ext-authz/policy.yaml"
{{- end }}
{{- if kindIs "slice" .Values.revocations }}
AUTHZ_REVOCATIONS_PATH: "/etc/cognito-ext-authz/revocations.yaml"
{{- end }}
AUTHZ_LOG_FORMAT: {{ .Values.settings.logFormat | quote }}
RUST_LOG: {{ .Values.settings.logLevel | quote }}
AUTHZ_DRAIN_SECONDS: {{ .Values.settings.drainSeconds | int | quote }}
AUTHZ_JWKS_REFRESH_SECONDS: {{ .Values.settings.jwksRefreshSeconds | int | quote }}
AUTHZ_JWKS_COOLDOWN_SECONDS: {{ .Values.settings.jwksCooldownSeconds | int | quote }}
AUTHZ_JWKS_TIMEOUT_SECONDS: {{ .Values.settings.jwksTimeoutSeconds | int | quote }}
AUTHZ_TOKEN_CACHE_ENTRIES: {{ .Values.settings.tokenCacheEntries | int | quote }}
AUTHZ_MAX_CONNECTIONS: {{ .Values.settings.maxConnections | int | quote }}
AUTHZ_WORKER_THREADS: {{ include "cognito-ext-authz.workerThreads" . | quote }}
AUTHZ_REFLECTION: {{ .Values.settings.reflection | toString | quote }}
AUTHZ_DYNAMIC_METADATA: {{ .Values.settings.dynamicMetadata | default false | toString | quote }}
{{- with .Values.tracing }}
{{- if .otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .otlpEndpoint | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: "grpc"
OTEL_SERVICE_NAME: {{ .serviceName | quote }}
OTEL_TRACES_SAMPLER: {{ .sampler | quote }}
{{- if .samplerArg }}
OTEL_TRACES_SAMPLER_ARG: {{ .samplerArg | toString | quote }}
{{- end }}
OTEL_BSP_MAX_QUEUE_SIZE: {{ .maxQueueSize | int | quote }}
{{- end }}
{{- end }}
{{- if .Values.tls.enabled }}
AUTHZ_TLS_CERT_FILE: {{ printf "/etc/cognito-ext-authz-tls/%s" .Values.tls.certKey | quote }}
AUTHZ_TLS_KEY_FILE: {{ printf "/etc/cognito-ext-authz-tls/%s" .Values.tls.keyKey | quote }}
{{- if .Values.tls.clientAuth.enabled }}
AUTHZ_TLS_CLIENT_CA_FILE: {{ printf "%s/%s" (include "cognito-ext-authz.clientCaDir" .) .Values.tls.clientAuth.caKey | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Where the client CA is mounted: in the serving Secret's folder, or its own when it comes
from another Secret.
*/}}
{{- define "cognito-ext-authz.clientCaDir" -}}
{{- if .Values.tls.clientAuth.secretName -}}
/etc/cognito-ext-authz-client-ca
{{- else -}}
/etc/cognito-ext-authz-tls
{{- end -}}
{{- end }}

{{/*
Tokio worker threads (AUTHZ_WORKER_THREADS): settings.workerThreads when set, else the CPU
request rounded up (at least 1). Left to itself the runtime would size its pool from the
cgroup CPU *limit*, which says nothing about the CPU the pod is guaranteed: a 100m request
with a 1-CPU limit gives one worker, a 2-CPU limit on a 500m request two workers that
are throttled. Matching the request keeps the workers on CPU they actually get.
*/}}
{{- define "cognito-ext-authz.workerThreads" -}}
{{- if not (kindIs "invalid" .Values.settings.workerThreads) }}
{{- .Values.settings.workerThreads | int }}
{{- else }}
{{- $cpu := toString (dig "requests" "cpu" "" (default dict .Values.resources)) }}
{{- $millis := 1000 }}
{{- if hasSuffix "m" $cpu }}
{{- $millis = trimSuffix "m" $cpu | int }}
{{- else if $cpu }}
{{- $millis = mulf (float64 $cpu) 1000 | int }}
{{- end }}
{{- max 1 (div (add $millis 999) 1000) }}
{{- end }}
{{- end }}

{{/*
Pod scheduling shared by the Deployment and the policy-check hook Job.
*/}}
{{/*
Labels and annotations of the pods that run once and end (the policy gate's Job pod, the
`helm test` pods): the aux labels, hookPods.podLabels, and, unless hookPods asks for
sidecars, the mesh opt-outs. An injected proxy never exits, so without native sidecars a
Job whose pod has one never completes and the install waits out its deadline.
Call with (dict "context" . "component" "...").
*/}}
{{- define "cognito-ext-authz.hookPodMetadata" -}}
{{- $hook := .context.Values.hookPods -}}
labels:
  {{- include "cognito-ext-authz.auxPodLabels" . | nindent 2 }}
  {{- if $hook.disableSidecarInjection }}
  sidecar.istio.io/inject: "false"
  {{- end }}
  {{- with $hook.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- if or $hook.disableSidecarInjection $hook.podAnnotations .annotations }}
annotations:
  {{- with .annotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- if $hook.disableSidecarInjection }}
  linkerd.io/inject: disabled
  {{- end }}
  {{- with $hook.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Scheduling of the pods that run once and end: hookPods' own nodeSelector and tolerations,
else the service's (a platform node pool's pods must be able to run beside it), plus
hookPods.affinity and hookPods.priorityClassName.
*/}}
{{- define "cognito-ext-authz.hookPodScheduling" -}}
{{- $hook := .Values.hookPods -}}
{{- with ($hook.nodeSelector | default .Values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with ($hook.tolerations | default .Values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $hook.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $hook.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{- define "cognito-ext-authz.podScheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Topology spread: topologySpreadConstraints when given, else one constraint per node
(hard: two replicas on one node are one outage) and one per zone (soft: a one-zone
cluster still schedules). matchLabelKeys spreads each ReplicaSet on its own, so a
rollout does not count the old pods; nodeTaintsPolicy Honor leaves tainted nodes (e.g.
control planes), where the pods may never run, out of the skew.
*/}}
{{- define "cognito-ext-authz.topologySpread" -}}
{{- if .Values.topologySpreadConstraints }}
{{- toYaml .Values.topologySpreadConstraints }}
{{- else if .Values.topologySpread.enabled }}
{{- $selector := include "cognito-ext-authz.selectorLabels" . }}
{{- range $key, $when := dict "kubernetes.io/hostname" .Values.topologySpread.nodes "topology.kubernetes.io/zone" .Values.topologySpread.zones }}
{{- if $when }}
- maxSkew: 1
  topologyKey: {{ $key }}
  whenUnsatisfiable: {{ $when }}
  nodeTaintsPolicy: Honor
  matchLabelKeys:
    - pod-template-hash
  labelSelector:
    matchLabels:
      {{- $selector | nindent 6 }}
{{- end }}
{{- end }}
{{- end }}
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

{{/*
The policy file's text: `policy` as given when it is text (comments and key order kept;
CRLF read as LF, other line breaks refused), the map rendered as YAML, or (null) the
chart's example. Written into `policy.yaml: |2`: the indentation is stated, so text
whose first line is indented stays inside the block.
*/}}
{{- define "cognito-ext-authz.policyYaml" -}}
{{- if not .Values.policy }}
# The chart's example: replace it with your own policy (`policy` in the values).
userPools:
  - id: us-east-1_EXAMPLE
defaultAction: deny
routes: []
{{- else if kindIs "string" .Values.policy }}
{{- $text := .Values.policy | replace "\r\n" "\n" }}
{{- /* Helm indents after `\n` only; YAML also breaks lines at these, and a line they
start would leave the ConfigMap's block scalar (other keys, another name, objects). */}}
{{- if regexMatch `[\r\x{85}\x{2028}\x{2029}]` $text }}
{{- fail "policy: the text holds a line break other than LF or CRLF (a lone CR, NEL, U+2028 or U+2029); save the file with LF or CRLF line ends" }}
{{- end }}
{{- $text | trimSuffix "\n" }}
{{- else }}
{{- toYaml .Values.policy }}
{{- end }}
{{- end }}
