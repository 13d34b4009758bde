{{/*
Names as the incubator/zookeeper chart (and Bitnami's) gave them for the same release, so that
connection strings keep working: <release>-zookeeper (the release name alone when it already holds
the chart's name), its -headless Service, pods <fullname>-<i>.
*/}}
{{- define "zk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "zk.fullname" -}}
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

{{- define "zk.headless" -}}
{{- printf "%s-headless" (include "zk.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* What selects the members' pods: Bitnami's selector (its chart 13.x), so that `helm upgrade` of a
release Bitnami's chart installed keeps the StatefulSet's selector, which Kubernetes never changes.
As there, a podLabels or commonLabels entry for app.kubernetes.io/name or /instance replaces that
label (podLabels first). Never add to it. */}}
{{- define "zk.selectorLabels" -}}
{{- $custom := merge (dict) (.Values.podLabels | default dict) (.Values.commonLabels | default dict) -}}
{{- $own := dict "app.kubernetes.io/name" (include "zk.name" .) "app.kubernetes.io/instance" .Release.Name -}}
{{- toYaml (merge (dict "app.kubernetes.io/component" "zookeeper") (pick $custom "app.kubernetes.io/name" "app.kubernetes.io/instance") $own) -}}
{{- end -}}

{{/* An object's labels, (list . component): the selector's, commonLabels, the chart's, and the old
chart's app/release, which `kubectl get all -l app=zookeeper` in the old charts' notes relies on.
Only the members' objects have the component `zookeeper`; the others' (test, metrics) keep them
out of the members' Services. */}}
{{- define "zk.componentLabels" -}}
{{- $ := index . 0 -}}
{{- $standard := dict
  "app.kubernetes.io/managed-by" $.Release.Service
  "app.kubernetes.io/version" (toString $.Chart.AppVersion)
  "helm.sh/chart" (printf "%s-%s" $.Chart.Name $.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-")
  "app" (include "zk.name" $)
  "release" $.Release.Name -}}
{{- $labels := merge (include "zk.selectorLabels" $ | fromYaml) ($.Values.commonLabels | default dict) $standard -}}
{{- $_ := set $labels "app.kubernetes.io/component" (index . 1) -}}
{{- toYaml $labels -}}
{{- end -}}

{{/* The members' objects' labels (the StatefulSet, its pods, Services, budget, policy). */}}
{{- define "zk.labels" -}}
{{- include "zk.componentLabels" (list . "zookeeper") -}}
{{- end -}}

{{/* A dotted key of a values map: (list $values "a.b.c") -> JSON {"found": bool, "value": ...}
(include returns text: the value travels as JSON). */}}
{{- define "zk.at" -}}
{{- $node := index . 0 -}}{{- $found := true -}}
{{- range $part := splitList "." (index . 1) -}}
{{- if and $found (kindIs "map" $node) (hasKey $node $part) -}}{{- $node = index $node $part -}}{{- else -}}{{- $found = false -}}{{- end -}}
{{- end -}}
{{- toJson (dict "found" $found "value" (ternary $node nil $found)) -}}
{{- end -}}

{{/*
The values in effect, as YAML: every old key given copied onto the key that replaced it (the old
key wins: it is what the user wrote), and every old key whose feature zkboot does not carry refused
with one line saying what replaced it. Each template reads them once:
  {{- $zk := include "zk.values" . | fromYaml }}
*/}}
{{- define "zk.values" -}}
{{- $v := .Values | toYaml | fromYaml -}}
{{- /* (old key, the key that replaced it) */ -}}
{{- $aliases := list
  (list "servers" "replicaCount")
  (list "heap" "heapSize")
  (list "tickTimeMs" "tickTime")
  (list "initTicks" "initLimit")
  (list "syncTicks" "syncLimit")
  (list "clientCnxns" "maxClientCnxns")
  (list "snapRetain" "autopurge.snapRetainCount")
  (list "purgeHours" "autopurge.purgeInterval")
  (list "clientPort" "containerPorts.client")
  (list "clientPort" "service.ports.client")
  (list "serverPort" "containerPorts.follower")
  (list "leaderElectionPort" "containerPorts.election")
  (list "ports.client.containerPort" "containerPorts.client")
  (list "ports.server.containerPort" "containerPorts.follower")
  (list "ports.election.containerPort" "containerPorts.election")
  (list "service.ports.client.port" "service.ports.client")
  (list "service.port" "service.ports.client")
  (list "minAvailable" "pdb.minAvailable")
  (list "podDisruptionBudget.minAvailable" "pdb.minAvailable")
  (list "podDisruptionBudget.maxUnavailable" "pdb.maxUnavailable")
  (list "storage" "persistence.size")
  (list "storageClass" "persistence.storageClass")
  (list "antiAffinity" "podAntiAffinityPreset")
  (list "imagePullPolicy" "image.pullPolicy")
  (list "headless.annotations" "service.headless.annotations")
  (list "probeInitialDelaySeconds" "livenessProbe.initialDelaySeconds")
  (list "probeInitialDelaySeconds" "readinessProbe.initialDelaySeconds")
  (list "probeTimeoutSeconds" "livenessProbe.timeoutSeconds")
  (list "probeTimeoutSeconds" "readinessProbe.timeoutSeconds")
  (list "security.runAsUser" "podSecurityContext.runAsUser")
  (list "security.fsGroup" "podSecurityContext.fsGroup")
  (list "securityContext.runAsUser" "podSecurityContext.runAsUser")
  (list "securityContext.runAsGroup" "podSecurityContext.runAsGroup")
  (list "securityContext.fsGroup" "podSecurityContext.fsGroup")
  (list "global.storageClass" "persistence.storageClass")
  (list "metrics.containerPort" "containerPorts.metrics")
  (list "metrics.serviceMonitor.labels" "metrics.serviceMonitor.additionalLabels")
  (list "tls.client.auth" "tls.client.clientAuth")
-}}
{{- /* (old key, when it is refused: true/false = set to that, set = set and not empty, what replaced it
[, a value accepted as it is: Bitnami's default, which only its own image reads]) */ -}}
{{- $refused := list
  (list "command" "set" "the container runs `zkboot start`, which writes zoo.cfg from these values; remove it" `["/scripts/setup.sh"]`)
  (list "args" "set" "the container runs `zkboot start`, which takes its settings from these values; remove it")
  (list "existingConfigmap" "set" "zkboot writes zoo.cfg, checking each key: give zoo.cfg keys in configuration (a map)")
  (list "namespaceOverride" "set" "install the release in that namespace (helm --namespace)")
  (list "podAffinityPreset" "set" "give the pod affinity in affinity")
  (list "nodeAffinityPreset.type" "set" "give the node affinity in affinity")
  (list "nodeAffinityPreset.key" "set" "give the node affinity in affinity")
  (list "nodeAffinityPreset.values" "set" "give the node affinity in affinity")
  (list "service.headless.servicenameOverride" "set" "the headless Service is <fullname>-headless, which every member's server list names; use fullnameOverride")
  (list "networkPolicy.allowExternalEgress" "false" "the NetworkPolicy here restricts ingress only; restrict egress with a NetworkPolicy of your own")
  (list "networkPolicy.extraEgress" "set" "the NetworkPolicy here restricts ingress only; restrict egress with a NetworkPolicy of your own")
  (list "secrets" "set" "mount Secrets with extraVolumes and extraVolumeMounts; TLS and SASL Secrets go in tls.* and sasl.*")
  (list "exporters.jmx.enabled" "true" "no exporter sidecar: ZooKeeper serves Prometheus metrics itself with metrics.enabled (and `zkboot metrics --format prometheus` prints them)")
  (list "exporters.zookeeper.enabled" "true" "no exporter sidecar: ZooKeeper serves Prometheus metrics itself with metrics.enabled (and `zkboot metrics --format prometheus` prints them)")
  (list "prometheus.serviceMonitor.enabled" "true" "use metrics.enabled and metrics.serviceMonitor.enabled (ZooKeeper serves Prometheus metrics itself)")
  (list "jobs.chroots.enabled" "true" "no chroot Job: create the chroots from your application or a Job of your own")
  (list "auth.enabled" "true" "client SASL is sasl.client.enabled with sasl.client.existingSecret (username, password)")
  (list "auth.client.enabled" "true" "client SASL is sasl.client.enabled with sasl.client.existingSecret (username, password)")
  (list "auth.quorum.enabled" "true" "quorum SASL is sasl.quorum.enabled with sasl.quorum.existingSecret (username, password) and fipsMode=off")
  (list "tls.client.autoGenerated" "true" "zkboot makes no certificates: give tls.client.existingSecret (tls.crt, tls.key, ca.crt, e.g. from cert-manager)")
  (list "tls.quorum.autoGenerated" "true" "zkboot makes no certificates: give tls.quorum.existingSecret (tls.crt, tls.key, ca.crt, e.g. from cert-manager)")
  (list "tls.client.keystorePath" "set" "zkboot reads PEM files (tls.crt, tls.key, ca.crt) from tls.client.existingSecret and writes the key store itself" `"/opt/bitnami/zookeeper/config/certs/client/zookeeper.keystore.jks"`)
  (list "tls.client.truststorePath" "set" "zkboot reads PEM files (tls.crt, tls.key, ca.crt) from tls.client.existingSecret and writes the key store itself" `"/opt/bitnami/zookeeper/config/certs/client/zookeeper.truststore.jks"`)
  (list "tls.client.passwordsSecretName" "set" "zkboot's key stores are PEM files without passwords")
  (list "tls.client.keystorePassword" "set" "zkboot's key stores are PEM files without passwords")
  (list "tls.client.existingSecretKeystoreKey" "set" "zkboot reads PEM files (tls.crt, tls.key, ca.crt) from tls.client.existingSecret and writes the key store itself")
  (list "tls.client.existingSecretTruststoreKey" "set" "zkboot reads PEM files (tls.crt, tls.key, ca.crt) from tls.client.existingSecret and writes the key store itself")
  (list "tls.client.passwordsSecretKeystoreKey" "set" "zkboot's key stores are PEM files without passwords")
  (list "tls.client.passwordsSecretTruststoreKey" "set" "zkboot's key stores are PEM files without passwords")
  (list "tls.client.truststorePassword" "set" "zkboot's key stores are PEM files without passwords")
  (list "tls.quorum.keystorePath" "set" "zkboot reads PEM files (tls.crt, tls.key, ca.crt) from tls.quorum.existingSecret and writes the key store itself" `"/opt/bitnami/zookeeper/config/certs/quorum/zookeeper.keystore.jks"`)
  (list "tls.quorum.truststorePath" "set" "zkboot reads PEM files (tls.crt, tls.key, ca.crt) from tls.quorum.existingSecret and writes the key store itself" `"/opt/bitnami/zookeeper/config/certs/quorum/zookeeper.truststore.jks"`)
  (list "tls.quorum.passwordsSecretName" "set" "zkboot's key stores are PEM files without passwords")
  (list "tls.quorum.keystorePassword" "set" "zkboot's key stores are PEM files without passwords")
  (list "tls.quorum.existingSecretKeystoreKey" "set" "zkboot reads PEM files (tls.crt, tls.key, ca.crt) from tls.quorum.existingSecret and writes the key store itself")
  (list "tls.quorum.existingSecretTruststoreKey" "set" "zkboot reads PEM files (tls.crt, tls.key, ca.crt) from tls.quorum.existingSecret and writes the key store itself")
  (list "tls.quorum.passwordsSecretKeystoreKey" "set" "zkboot's key stores are PEM files without passwords")
  (list "tls.quorum.passwordsSecretTruststoreKey" "set" "zkboot's key stores are PEM files without passwords")
  (list "tls.quorum.truststorePassword" "set" "zkboot's key stores are PEM files without passwords")
  (list "persistence.existingClaim" "set" "each member needs a claim of its own: set persistence.claimName so that the PVCs <claimName>-<fullname>-<ordinal> are reused")
  (list "persistence.dataLogDir.existingClaim" "set" "each member needs a claim of its own: the transaction log lives on persistence.claimName's volume (dataLogDir)")
  (list "zooServers" "set" "zkboot writes the server list from the pods' names (replicaCount members)")
  (list "customLivenessProbe" "set" "zkboot's probes stay (they tell the truth about the server); tune livenessProbe.*")
  (list "customReadinessProbe" "set" "zkboot's probes stay (they tell the truth about the server); tune readinessProbe.*")
  (list "customStartupProbe" "set" "zkboot's probes stay (they tell the truth about the server); tune startupProbe.*")
  (list "volumePermissions.enabled" "true" "no init container: podSecurityContext.fsGroup makes the volumes writable")
  (list "diagnosticMode.enabled" "true" "no diagnostic mode: `zkboot render` shows what a pod would get, `zkboot status` how the ensemble is")
  (list "rollingUpdatePartition" "set" "use updateStrategy.rollingUpdate.partition")
  (list "service.headless.publishNotReadyAddresses" "false" "members must resolve each other before any of them is Ready")
  (list "service.publishNotReadyAddresses" "false" "members must resolve each other before any of them is Ready")
  (list "security.enabled" "false" "the pod runs as a non-root user (podSecurityContext); set podSecurityContext.runAsUser and fsGroup instead")
-}}
{{- range $rule := $refused -}}
{{- $at := include "zk.at" (list $v (index $rule 0)) | fromJson -}}
{{- $when := index $rule 1 -}}
{{- $accepted := and (gt (len $rule) 3) (eq (toJson $at.value) (index $rule 3 | default "")) -}}
{{- if and $at.found (not $accepted) (or (and (has $when (list "true" "false")) (eq (toString $at.value) $when)) (and (eq $when "set") (not (empty $at.value)))) -}}
{{- fail (printf "values: %s=%s is not supported here: %s" (index $rule 0) (toJson $at.value) (index $rule 2)) -}}
{{- end -}}
{{- end -}}
{{- if and (kindIs "string" $v.configuration) (ne $v.configuration "") -}}
{{- fail "values: configuration is a map of zoo.cfg keys here (zkboot writes zoo.cfg, checking each key), not a whole zoo.cfg text" -}}
{{- end -}}
{{- $bitnamiImage := has $v.image.repository (list "bitnami/zookeeper" "bitnamilegacy/zookeeper") -}}
{{- if and (not $bitnamiImage) (has (base $v.image.repository) (list "zookeeper" "k8szk" "kubernetes-zookeeper")) -}}
{{- fail (printf "values: image.repository=%s has no zkboot: the chart runs zkboot's image (image.repository zkboot, or your mirror of it)" $v.image.repository) -}}
{{- end -}}
{{- $eff := deepCopy $v -}}
{{- /* Bitnami's configuration: "" is its default (no zoo.cfg of its own): no keys. */ -}}
{{- if kindIs "string" $v.configuration -}}{{- $_ := set $eff "configuration" dict -}}{{- end -}}
{{- /* Bitnami's image has no zkboot: its registry, repository and tag give way to the chart's own
(NOTES says so), as a Bitnami values file copied whole names it. */ -}}
{{- if $bitnamiImage -}}
{{- $own := (.Files.Get "files/bitnami-keys.yaml" | fromYaml).ownImage -}}
{{- range $key := list "registry" "repository" "tag" -}}{{- $_ := set $eff.image $key (index $own $key) -}}{{- end -}}
{{- end -}}
{{- range $pair := $aliases -}}
{{- $at := include "zk.at" (list $v (index $pair 0)) | fromJson -}}
{{- $node := $at.value -}}
{{- if and $at.found (not (kindIs "invalid" $node)) (ne (toString $node) "") -}}
{{- $path := splitList "." (index $pair 1) -}}
{{- $target := $eff -}}
{{- range $part := initial $path -}}
{{- if not (kindIs "map" (index $target $part)) -}}{{- $_ := set $target $part dict -}}{{- end -}}
{{- $target = index $target $part -}}
{{- end -}}
{{- $_ := set $target (last $path) $node -}}
{{- end -}}
{{- end -}}
{{- /* Shapes that changed: incubator 2.x's accessMode (one), Bitnami's old updateStrategy (a string),
incubator 2.x's service.ports.client (a map). */ -}}
{{- if not $eff.membership -}}
{{- $_ := set $eff "membership" (ternary "static" "dynamic" (or (hasKey $v "diagnosticMode") (hasKey $v "volumePermissions"))) -}}
{{- end -}}
{{- /* The old chart's claim, so that its values file keeps its PVCs: that chart's parameters name it. */ -}}
{{- if not $eff.persistence.claimName -}}
{{- $incubator := false -}}
{{- range $key := list "servers" "heap" "storage" "serverPort" "leaderElectionPort" "clientCnxns" "tickTimeMs" "initTicks" "syncTicks" "snapRetain" "purgeHours" "antiAffinity" "probeInitialDelaySeconds" "probeTimeoutSeconds" -}}
{{- if hasKey $v $key -}}{{- $incubator = true -}}{{- end -}}
{{- end -}}
{{- $_ := set $eff.persistence "claimName" (ternary "datadir" "data" $incubator) -}}
{{- end -}}
{{- /* Bitnami's order: global.storageClass, then persistence.storageClass, then global.defaultStorageClass. */ -}}
{{- if not $eff.persistence.storageClass -}}{{- $_ := set $eff.persistence "storageClass" (dig "defaultStorageClass" "" ($v.global | default dict)) -}}{{- end -}}
{{- with $v.persistence.accessMode -}}{{- $_ := set $eff.persistence "accessModes" (list .) -}}{{- end -}}
{{- /* Bitnami's networkPolicy.allowExternal, when given: true lets every source reach the client
port, false only labelled clients. */ -}}
{{- if not (kindIs "invalid" (dig "networkPolicy" "allowExternal" nil $v)) -}}{{- $_ := set $eff.networkPolicy "clients" (ternary "any" "labelled" $v.networkPolicy.allowExternal) -}}{{- end -}}
{{- if kindIs "string" $v.updateStrategy -}}{{- $_ := set $eff "updateStrategy" (dict "type" $v.updateStrategy) -}}{{- end -}}
{{- if kindIs "map" $eff.service.ports.client -}}{{- $_ := set $eff.service.ports "client" $eff.containerPorts.client -}}{{- end -}}
{{- /* resourcesPreset (files/resources-presets.yaml): "" is this chart's sizing with resources laid
over it key by key, as Helm lays a values file over a chart's defaults; Bitnami's presets apply
only while resources is empty, as in Bitnami's charts; none leaves resources as given. */ -}}
{{- $preset := toString $v.resourcesPreset -}}
{{- if ne $preset "none" -}}
{{- $presets := .Files.Get "files/resources-presets.yaml" | fromYaml -}}
{{- if not (hasKey $presets $preset) -}}
{{- fail (printf `values: resourcesPreset=%s: expected "" (this chart's sizing), none or one of %s` $preset (without (keys $presets) "" | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $sized := deepCopy (index $presets $preset) -}}
{{- if eq $preset "" -}}
{{- $_ := set $eff "resources" (mergeOverwrite $sized ($v.resources | default dict)) -}}
{{- else if empty $v.resources -}}
{{- $_ := set $eff "resources" $sized -}}
{{- end -}}
{{- end -}}
{{- toYaml $eff -}}
{{- end -}}

{{/* A value as an environment variable's text: integral numbers without exponent or decimals. */}}
{{- define "zk.str" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) -}}
{{- if eq (float64 .) (float64 (int64 .)) -}}{{- printf "%d" (int64 .) -}}{{- else -}}{{- . -}}{{- end -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* Where the Secrets are mounted (zkboot reads them at start). */}}
{{- define "zk.secretDirs" -}}
super: /opt/zookeeper/secrets/super
tls: /opt/zookeeper/secrets/tls
quorum-tls: /opt/zookeeper/secrets/quorum-tls
quorum-sasl: /opt/zookeeper/secrets/quorum-sasl
client-sasl: /opt/zookeeper/secrets/client-sasl
{{- end -}}

{{/*
The container's environment, as a map: zkboot's ZK_* variables from the values in effect, then the
`env` map over them (the official image's ZOO_* names turned into zkboot's, zkServer.sh's JMX* ones
as they are). Takes (list $ $zk).
*/}}
{{- define "zk.env" -}}
{{- $root := index . 0 -}}{{- $zk := index . 1 -}}
{{- $dirs := include "zk.secretDirs" $root | fromYaml -}}
{{- $mount := trimSuffix "/" $zk.persistence.mountPath -}}
{{- $env := dict
  "ZK_REPLICAS" (include "zk.str" $zk.replicaCount)
  "ZK_MEMBERSHIP" $zk.membership
  "ZK_TICK_TIME" (include "zk.str" $zk.tickTime)
  "ZK_INIT_LIMIT" (include "zk.str" $zk.initLimit)
  "ZK_SYNC_LIMIT" (include "zk.str" $zk.syncLimit)
  "ZK_MAX_CLIENT_CNXNS" (include "zk.str" $zk.maxClientCnxns)
  "ZK_SNAP_RETAIN_COUNT" (include "zk.str" $zk.autopurge.snapRetainCount)
  "ZK_PURGE_INTERVAL" (include "zk.str" $zk.autopurge.purgeInterval)
  "ZK_LOG_LEVEL" (upper (toString $zk.logLevel))
  "ZK_MYID_OFFSET" (include "zk.str" $zk.minServerId)
  "ZK_CLIENT_PORT" (include "zk.str" $zk.containerPorts.client)
  "ZK_SERVER_PORT" (include "zk.str" $zk.containerPorts.follower)
  "ZK_ELECTION_PORT" (include "zk.str" $zk.containerPorts.election)
  "ZK_DATA_DIR" (default (printf "%s/data" $mount) $zk.dataDir)
  "ZK_DATA_LOG_DIR" (default (printf "%s/log" $mount) $zk.dataLogDir)
  "ZK_LOG_FORMAT" "text"
-}}
{{- $heap := $zk.heapSize -}}
{{- $_ := set $env "ZK_HEAP_SIZE" (ternary (printf "%sM" (include "zk.str" $heap)) (toString $heap) (not (kindIs "string" $heap))) -}}
{{- if eq $zk.membership "dynamic" -}}{{- $_ := set $env "ZK_SUPER_PASSWORD_FILE" (printf "%s/password" $dirs.super) -}}{{- end -}}
{{- if not (kindIs "invalid" $zk.minSessionTimeout) -}}{{- $_ := set $env "ZK_MIN_SESSION_TIMEOUT" (include "zk.str" $zk.minSessionTimeout) -}}{{- end -}}
{{- if not (kindIs "invalid" $zk.maxSessionTimeout) -}}{{- $_ := set $env "ZK_MAX_SESSION_TIMEOUT" (include "zk.str" $zk.maxSessionTimeout) -}}{{- end -}}
{{- with $zk.fourlwCommandsWhitelist -}}{{- $_ := set $env "ZK_4LW_WHITELIST" (. | replace " " "") -}}{{- end -}}
{{- with $zk.jvmFlags -}}{{- $_ := set $env "JVMFLAGS" . -}}{{- end -}}
{{- if $zk.tls.client.enabled -}}
{{- $_ := set $env "ZK_SECURE_CLIENT_PORT" (include "zk.str" $zk.containerPorts.tls) -}}
{{- $_ := set $env "ZK_TLS_DIR" $dirs.tls -}}
{{- $_ := set $env "ZK_TLS_CLIENT_AUTH" $zk.tls.client.clientAuth -}}
{{- end -}}
{{- if $zk.tls.quorum.enabled -}}
{{- $_ := set $env "ZK_QUORUM_TLS" "on" -}}
{{- if $zk.tls.quorum.existingSecret -}}{{- $_ := set $env "ZK_QUORUM_TLS_DIR" (index $dirs "quorum-tls") -}}
{{- else if not $zk.tls.client.enabled -}}{{- $_ := set $env "ZK_TLS_DIR" $dirs.tls -}}{{- end -}}
{{- end -}}
{{- if $zk.sasl.quorum.enabled -}}{{- $_ := set $env "ZK_QUORUM_SASL_DIR" (index $dirs "quorum-sasl") -}}{{- end -}}
{{- if ne (toString $zk.fipsMode) "auto" -}}{{- $_ := set $env "ZK_FIPS_MODE" (toString $zk.fipsMode) -}}{{- end -}}
{{- if $zk.sasl.client.enabled -}}{{- $_ := set $env "ZK_CLIENT_SASL_DIR" (index $dirs "client-sasl") -}}{{- end -}}
{{- if $zk.metrics.enabled -}}{{- $_ := set $env "ZK_METRICS_PORT" (include "zk.str" $zk.containerPorts.metrics) -}}{{- end -}}
{{- /* zoo.cfg keys with no ZK_* variable of their own, through ZK_CFG_EXTRA. */ -}}
{{- $extra := dict -}}
{{- range $key, $value := $zk.configuration -}}{{- $_ := set $extra $key (include "zk.str" $value) -}}{{- end -}}
{{- if $zk.listenOnAllIPs -}}{{- $_ := set $extra "quorumListenOnAllIPs" "true" -}}{{- end -}}
{{- if not (kindIs "invalid" $zk.preAllocSize) -}}{{- $_ := set $extra "preAllocSize" (include "zk.str" $zk.preAllocSize) -}}{{- end -}}
{{- if not (kindIs "invalid" $zk.snapCount) -}}{{- $_ := set $extra "snapCount" (include "zk.str" $zk.snapCount) -}}{{- end -}}
{{- /* The official image's variables that zkboot stands in for. */ -}}
{{- $zoo := dict
  "ZOO_PORT" "ZK_CLIENT_PORT" "ZOO_TICK_TIME" "ZK_TICK_TIME" "ZOO_INIT_LIMIT" "ZK_INIT_LIMIT"
  "ZOO_SYNC_LIMIT" "ZK_SYNC_LIMIT" "ZOO_MAX_CLIENT_CNXNS" "ZK_MAX_CLIENT_CNXNS"
  "ZOO_AUTOPURGE_PURGEINTERVAL" "ZK_PURGE_INTERVAL" "ZOO_AUTOPURGE_SNAPRETAINCOUNT" "ZK_SNAP_RETAIN_COUNT"
  "ZOO_4LW_COMMANDS_WHITELIST" "ZK_4LW_WHITELIST" "ZOO_DATA_DIR" "ZK_DATA_DIR" "ZOO_DATA_LOG_DIR" "ZK_DATA_LOG_DIR"
  "ZOO_MAX_SESSION_TIMEOUT" "ZK_MAX_SESSION_TIMEOUT" "ZOO_LOG_LEVEL" "ZK_LOG_LEVEL"
-}}
{{- range $name, $raw := $zk.env -}}
{{- $value := include "zk.str" $raw -}}
{{- if hasKey $zoo $name -}}
{{- $_ := set $env (index $zoo $name) $value -}}
{{- else if eq $name "ZK_QUORUM_LISTEN_ALL_IP" -}}
{{- if eq $value "true" -}}{{- $_ := set $extra "quorumListenOnAllIPs" "true" -}}{{- end -}}
{{- else if eq $name "ZOO_STANDALONE_ENABLED" -}}
{{- if eq $value "true" -}}{{- fail "values: env.ZOO_STANDALONE_ENABLED=true is not supported here: zkboot runs a member of an ensemble of replicaCount members, never standalone (replicaCount 1 is standalone)" -}}{{- end -}}
{{- else if has $name (list "ZOO_SERVERS" "ZOO_MY_ID") -}}
{{- fail (printf "values: env.%s is not supported here: zkboot derives the server list and myid from the pods' names (replicaCount, minServerId)" $name) -}}
{{- else if eq $name "ZK_CFG_EXTRA" -}}
{{- range $item := regexSplit "[;\n]" $value -1 -}}{{- if contains "=" $item -}}{{- $kv := splitn "=" 2 $item -}}{{- $_ := set $extra (trim $kv._0) (trim $kv._1) -}}{{- end -}}{{- end -}}
{{- else -}}
{{- $_ := set $env $name $value -}}
{{- end -}}
{{- end -}}
{{- if $extra -}}
{{- $pairs := list -}}
{{- range $key := keys $extra | sortAlpha -}}{{- $pairs = append $pairs (printf "%s=%s" $key (index $extra $key)) -}}{{- end -}}
{{- $_ := set $env "ZK_CFG_EXTRA" (join ";" $pairs) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* The image: registry/repository:tag (tag default: the chart's appVersion). */}}
{{- define "zk.image" -}}
{{- $zk := index . 1 -}}{{- $root := index . 0 -}}
{{- /* global.imageRegistry first, as in Bitnami's charts. */ -}}
{{- $registry := dig "imageRegistry" "" ($zk.global | default dict) | default $zk.image.registry -}}
{{- $ref := printf "%s:%s" $zk.image.repository ($zk.image.tag | default $root.Chart.AppVersion | toString) -}}
{{- if $registry -}}{{- printf "%s/%s" (trimSuffix "/" $registry) $ref -}}{{- else -}}{{- $ref -}}{{- end -}}
{{- end -}}

{{/* The Secret volumes zkboot reads at start, each key listed, group-readable (0440: the server's
group is fsGroup). Takes (list $ $zk). */}}
{{- define "zk.secretVolumes" -}}
{{- $root := index . 0 -}}{{- $zk := index . 1 -}}
{{- $volumes := list -}}
{{- if eq $zk.membership "dynamic" -}}
{{- $volumes = append $volumes (list "super" ($zk.superPasswordSecret | default (printf "%s-super" (include "zk.fullname" $root))) (list "password")) -}}
{{- end -}}
{{- if or $zk.tls.client.enabled (and $zk.tls.quorum.enabled (not $zk.tls.quorum.existingSecret)) -}}
{{- $volumes = append $volumes (list "tls" $zk.tls.client.existingSecret (list "tls.crt" "tls.key" "ca.crt")) -}}
{{- end -}}
{{- if and $zk.tls.quorum.enabled $zk.tls.quorum.existingSecret -}}
{{- $volumes = append $volumes (list "quorum-tls" $zk.tls.quorum.existingSecret (list "tls.crt" "tls.key" "ca.crt")) -}}
{{- end -}}
{{- if $zk.sasl.quorum.enabled -}}
{{- $volumes = append $volumes (list "quorum-sasl" $zk.sasl.quorum.existingSecret (list "username" "password")) -}}
{{- end -}}
{{- if $zk.sasl.client.enabled -}}
{{- $volumes = append $volumes (list "client-sasl" $zk.sasl.client.existingSecret (list "username" "password")) -}}
{{- end -}}
{{- range $volumes }}
- name: {{ index . 0 }}
  secret:
    secretName: {{ index . 1 }}
    defaultMode: 288  # 0440
    items:
      {{- range $key := index . 2 }}
      - key: {{ $key }}
        path: {{ $key }}
      {{- end }}
{{- end -}}
{{- end -}}


{{/* The metrics objects' labels: the chart's, with the component `metrics` (the ServiceMonitor
selects the metrics Service by it, and none of the pods' Services). */}}
{{- define "zk.metricsLabels" -}}
{{- include "zk.componentLabels" (list . "metrics") -}}
{{- end -}}

{{/*
The default alerting rules, about this release's members as its ServiceMonitor scrapes them (the
labels namespace and service are the metrics Service's). The metric names are those of ZooKeeper's
Prometheus provider; a member that does not serve (no quorum, starting, stopped) exports no
ZooKeeper server gauges, only the JVM's. Takes (list $ $zk).
*/}}
{{- define "zk.defaultRules" -}}
{{- $root := index . 0 -}}{{- $zk := index . 1 -}}
{{- $sel := printf "namespace=%q,service=%q" $root.Release.Namespace (printf "%s-metrics" (include "zk.fullname" $root)) -}}
{{- $release := include "zk.fullname" $root -}}
{{- if gt (int $zk.replicaCount) 1 }}
- alert: ZooKeeperQuorumLost
  # Members are scraped but none leads: without a leader no member serves (a standalone server
  # never has one, hence only for an ensemble).
  expr: 'count(up{ {{- $sel -}} }) unless count(leader_uptime{ {{- $sel -}} })'
  for: 1m
  labels:
    severity: critical
  annotations:
    summary: "ZooKeeper {{ $release }} has no leader"
    description: "No member of {{ $release }} leads, so none serves clients (quorum lost, or an election that does not end)."
{{- end }}
- alert: ZooKeeperMemberNotServing
  expr: 'up{ {{- $sel -}} } unless on (namespace, pod, instance) uptime{ {{- $sel -}} }'
  for: 5m
  labels:
    severity: warning
  annotations:
    summary: "ZooKeeper member {{ "{{" }} $labels.pod {{ "}}" }} is not serving"
    description: "{{ "{{" }} $labels.pod {{ "}}" }} of {{ $release }} has not served clients for 5 minutes (not scraped, looking for a leader, or syncing)."
- alert: ZooKeeperOutstandingRequests
  expr: 'outstanding_requests{ {{- $sel -}} } > 10'
  for: 5m
  labels:
    severity: warning
  annotations:
    summary: "Requests pile up on ZooKeeper member {{ "{{" }} $labels.pod {{ "}}" }}"
    description: "{{ "{{" }} $labels.pod {{ "}}" }} of {{ $release }} has had more than 10 requests queued for 5 minutes ({{ "{{" }} $value {{ "}}" }} now)."
- alert: ZooKeeperSlowFsync
  # fsynctime is in milliseconds; ZooKeeper itself warns of a single fsync over 1 s.
  expr: 'rate(fsynctime_sum{ {{- $sel -}} }[5m]) / rate(fsynctime_count{ {{- $sel -}} }[5m]) > 100'
  for: 10m
  labels:
    severity: warning
  annotations:
    summary: "Slow transaction log fsync on ZooKeeper member {{ "{{" }} $labels.pod {{ "}}" }}"
    description: "The transaction log's fsync on {{ "{{" }} $labels.pod {{ "}}" }} of {{ $release }} has taken {{ "{{" }} $value | printf \"%.0f\" {{ "}}" }} ms on average for 10 minutes; every write waits for it."
- alert: ZooKeeperFileDescriptorsNearLimit
  expr: 'open_file_descriptor_count{ {{- $sel -}} } / max_file_descriptor_count{ {{- $sel -}} } > 0.85'
  for: 5m
  labels:
    severity: warning
  annotations:
    summary: "ZooKeeper member {{ "{{" }} $labels.pod {{ "}}" }} is near its file descriptor limit"
    description: "{{ "{{" }} $labels.pod {{ "}}" }} of {{ $release }} uses {{ "{{" }} $value | humanizePercentage {{ "}}" }} of its file descriptors; at the limit it refuses connections."
{{- end -}}
