{{/* Names, labels and the values several templates derive. */}}

{{- define "jetbridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jetbridge.fullname" -}}
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

{{- define "jetbridge.webName" -}}
{{- printf "%s-web" (include "jetbridge.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jetbridge.postgresqlName" -}}
{{- printf "%s-postgresql" (include "jetbridge.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jetbridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "jetbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: include "jetbridge.selectorLabels" (list $ "web") */}}
{{- define "jetbridge.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "jetbridge.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The web image: by digest when one is given, else by tag (default: the chart's appVersion). */}}
{{- define "jetbridge.image" -}}
{{- if .Values.imageDigest -}}
{{- printf "%s@%s" .Values.image .Values.imageDigest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image (default .Chart.AppVersion .Values.imageTag) -}}
{{- end -}}
{{- end -}}

{{/* A sibling image of the web's (`<image>-helper`…) with the same tag; ./build.sh names them this way. */}}
{{- define "jetbridge.siblingImage" -}}
{{- $ := index . 0 -}}
{{- printf "%s-%s:%s" $.Values.image (index . 1) (default $.Chart.AppVersion $.Values.imageTag) -}}
{{- end -}}

{{- define "jetbridge.artifactDaemonName" -}}
{{- printf "%s-artifact-daemon" (include "jetbridge.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The artifact daemon's image: `artifactDaemon.image`, else `<image>-artifact-daemon` with the web's tag. */}}
{{- define "jetbridge.artifactDaemonImage" -}}
{{- default (include "jetbridge.siblingImage" (list . "artifact-daemon")) .Values.artifactDaemon.image -}}
{{- end -}}

{{/* How the web finds the daemons: the DaemonSet's selector labels as a label selector. */}}
{{- define "jetbridge.artifactDaemonSelector" -}}
{{- $labels := include "jetbridge.selectorLabels" (list . "artifact-daemon") | fromYaml -}}
{{- $pairs := list -}}
{{- range $key := keys $labels | sortAlpha -}}
{{- $pairs = append $pairs (printf "%s=%s" $key (index $labels $key)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{- define "jetbridge.webServiceAccountName" -}}
{{- default (include "jetbridge.webName" .) .Values.rbac.webServiceAccountName -}}
{{- end -}}

{{- define "jetbridge.stepNamespace" -}}
{{- default .Release.Namespace .Values.kubernetes.namespace -}}
{{- end -}}

{{- define "jetbridge.artifactClaimName" -}}
{{- if .Values.kubernetes.claim -}}
{{- .Values.kubernetes.claim -}}
{{- else if .Values.persistence.existingClaim -}}
{{- .Values.persistence.existingClaim -}}
{{- else -}}
{{- printf "%s-artifacts" (include "jetbridge.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Namespaces of the Kubernetes credential manager: `<prefix><team>`; the official chart's default prefix. */}}
{{- define "jetbridge.teamNamespacePrefix" -}}
{{- default (printf "%s-" .Release.Name) .Values.concourse.web.kubernetes.namespacePrefix -}}
{{- end -}}

{{/* The external URL: the value, else the first ingress host (https when the ingress has TLS), else empty. */}}
{{- define "jetbridge.externalUrl" -}}
{{- if .Values.concourse.web.externalUrl -}}
{{- .Values.concourse.web.externalUrl -}}
{{- else if and .Values.web.ingress.enabled .Values.web.ingress.hosts -}}
{{- printf "%s://%s" (ternary "https" "http" (gt (len .Values.web.ingress.tls) 0)) (first .Values.web.ingress.hosts) -}}
{{- end -}}
{{- end -}}

{{/*
A generated secret value that survives upgrades: the value already in the cluster's Secret when there is one
(Helm `lookup`; empty under `helm template`), else a fresh random one.
include "jetbridge.keptSecretValue" (dict "ctx" $ "secret" NAME "key" KEY "length" N)
*/}}
{{- define "jetbridge.keptSecretValue" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .secret -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum (int .length) -}}
{{- end -}}
{{- end -}}

{{/*
The Kubernetes runtime's settings as `CONCOURSE_KUBERNETES_<KEY>` env entries: each `kubernetes.<key>` value
(camelCase → UPPER_SNAKE), chart-derived defaults filled in, empty strings/lists/maps left out (server default).
*/}}
{{- define "jetbridge.kubernetesEnv" -}}
{{- $k := deepCopy .Values.kubernetes -}}
{{- $_ := set $k "namespace" (include "jetbridge.stepNamespace" .) -}}
{{- $_ := set $k "instance" (default (include "jetbridge.fullname" .) $k.instance) -}}
{{- $_ := set $k "helperImage" (default (include "jetbridge.siblingImage" (list . "helper")) $k.helperImage) -}}
{{- if eq $k.artifactMode "pvc" -}}
{{- $_ := set $k "claim" (include "jetbridge.artifactClaimName" .) -}}
{{- else -}}
{{- $_ := unset $k "claim" -}}
{{- $_ := unset $k "claimMountPath" -}}
{{- $_ := unset $k "artifactDirectory" -}}
{{- $_ := unset $k "inputs" -}}
{{- end -}}
{{- if ne $k.artifactMode "stream" -}}
{{- $_ := unset $k "streamMaxOutputSize" -}}
{{- end -}}
{{- if eq $k.artifactMode "node-local" -}}
{{- $_ := set $k "artifactDaemonPort" .Values.artifactDaemon.port -}}
{{- $_ := set $k "artifactDaemonHostPath" .Values.artifactDaemon.hostPath -}}
{{- $_ := set $k "artifactDaemonSelector" (include "jetbridge.artifactDaemonSelector" .) -}}
{{- $_ := set $k "artifactDaemonNamespace" .Release.Namespace -}}
{{- if .Values.artifactDaemon.tls.enabled -}}
{{- $_ := set $k "artifactDaemonTlsCaCert" "/artifact-daemon-tls/ca.crt" -}}
{{- end -}}
{{- else -}}
{{- $_ := unset $k "artifactMirrorReplicas" -}}
{{- end -}}
{{- range $key := keys $k | sortAlpha }}
{{- $value := index $k $key }}
{{- $text := "" }}
{{- if kindIs "slice" $value }}{{ $text = join "," $value }}
{{- else if kindIs "map" $value }}{{ if $value }}{{ $text = toJson $value }}{{ end }}
{{- else if kindIs "bool" $value }}{{ $text = toString $value }}
{{- else if kindIs "invalid" $value }}{{ $text = "" }}
{{- else }}{{ $text = toString $value }}
{{- end }}
{{- if ne $text "" }}
- name: CONCOURSE_KUBERNETES_{{ $key | snakecase | upper }}
  value: {{ $text | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Settings that cannot work together stop the install with a message naming the values. */}}
{{- define "jetbridge.validate" -}}
{{- $web := .Values.concourse.web -}}
{{- if and (not .Values.postgresql.enabled) (not $web.postgres.host) -}}
{{- fail "postgresql.enabled is false: set concourse.web.postgres.host (and secrets.postgresUser/postgresPassword) for an external PostgreSQL" -}}
{{- end -}}
{{- if and $web.credentialsFile.enabled (not $web.credentialsFile.secretName) -}}
{{- fail "concourse.web.credentialsFile.enabled needs concourse.web.credentialsFile.secretName (an existing Secret holding the YAML)" -}}
{{- end -}}
{{- if and $web.credentialsFile.enabled $web.kubernetes.enabled -}}
{{- fail "concourse.web.credentialsFile and concourse.web.kubernetes are both enabled: the server takes one credential manager" -}}
{{- end -}}
{{- if not (has $web.runtime (list "kubernetes" "local")) -}}
{{- fail (printf "concourse.web.runtime must be kubernetes or local, not %q" $web.runtime) -}}
{{- end -}}
{{- if and .Values.artifactDaemon.enabled .Values.artifactDaemon.tls.enabled (not .Values.artifactDaemon.tls.secretName) -}}
{{- fail "artifactDaemon.tls.enabled needs artifactDaemon.tls.secretName (a Secret with tls.crt, tls.key and ca.crt)" -}}
{{- end -}}
{{- if has "ReadWriteOncePod" .Values.persistence.accessModes -}}
{{- fail "persistence.accessModes: ReadWriteOncePod lets a single pod mount the artifact claim, but the web and every step pod mount it; use ReadWriteMany (or ReadWriteOnce on a single node)" -}}
{{- end -}}
{{- if eq $web.runtime "kubernetes" -}}
{{- $mode := .Values.kubernetes.artifactMode -}}
{{- if not (has $mode (list "pvc" "stream" "node-local")) -}}
{{- fail (printf "kubernetes.artifactMode must be pvc, stream or node-local, not %q" $mode) -}}
{{- end -}}
{{- if and (eq $mode "pvc") (ne (include "jetbridge.stepNamespace" .) .Release.Namespace) -}}
{{- fail (printf "kubernetes.namespace %q differs from the release namespace %q: with artifactMode pvc the web and the step pods mount one claim, so they must share a namespace" .Values.kubernetes.namespace .Release.Namespace) -}}
{{- end -}}
{{- if and (eq $mode "pvc") (not .Values.persistence.enabled) (not .Values.persistence.existingClaim) (not .Values.kubernetes.claim) -}}
{{- fail "kubernetes.artifactMode is pvc but persistence.enabled is false and no claim is named (persistence.existingClaim or kubernetes.claim)" -}}
{{- end -}}
{{- if and (eq $mode "node-local") (not .Values.artifactDaemon.enabled) -}}
{{- fail "kubernetes.artifactMode node-local needs artifactDaemon.enabled (the DaemonSet keeping each node's artifacts)" -}}
{{- end -}}
{{- end -}}
{{- end -}}
