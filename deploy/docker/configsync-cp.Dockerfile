# configsync-cp, the control plane. Built elsewhere (CI here has no Docker engine), from the
# repository root after `mvn -B package -DskipTests`:
#   docker build -f deploy/docker/configsync-cp.Dockerfile -t configsync-cp:0.1.0 .
# Checked on every `mvn -B verify` by system-tests' DeployFilesTest (jar path, flags, user, paths).
ARG BASE=eclipse-temurin:17-jre
FROM ${BASE}

# The self-contained jar of module control-plane-cli, and the health check (bash, no curl needed).
COPY control-plane-cli/target/configsync-cp.jar /opt/configsync/configsync-cp.jar
# The launcher (JVM options from the sizing measurements, docs/operations.md) and what it sources;
# it runs /opt/configsync/configsync-cp.jar, beside its bin/ directory.
COPY bin/configsync-cp /opt/configsync/bin/configsync-cp
COPY bin/configsync-jvm.sh /opt/configsync/bin/configsync-jvm.sh
COPY deploy/docker/cp-healthcheck /opt/configsync/bin/cp-healthcheck

# A numeric user (Kubernetes' runAsNonRoot can check it) that owns nothing in the image: the root
# filesystem may be mounted read-only. Every path written is a volume: the store (a single control
# plane; replicas on etcd write nothing locally) and /tmp (the JVM's scratch space).
USER 10001:10001
VOLUME ["/var/lib/configsync-cp", "/tmp"]

# 8005: data planes (mutual TLS). 8001: the admin API (bearer token from a file).
EXPOSE 8005 8001

# The launcher's JVM options (collector, heap: docs/operations.md, "Sizing") and
# -XX:+ExitOnOutOfMemoryError (an orchestrator restarts a process out of heap rather than leaving
# it half-working). JAVA_OPTS here adds -XX:-UsePerfData (no hsperfdata file in /tmp); set
# CONFIGSYNC_JAVA_OPTS to add or override options (-Xmx, a collector), JAVA_OPTS to replace these.
ENV JAVA_OPTS="-XX:-UsePerfData"
ENTRYPOINT ["/opt/configsync/bin/configsync-cp"]
# A single control plane with its store on the volume; Kubernetes replicas replace these
# arguments (deploy/k8s/control-plane.yaml). Certificates and the token are mounted read-only.
CMD ["--cert", "/etc/configsync-cp/tls/tls.crt", "--key", "/etc/configsync-cp/tls/tls.key", "--ca", "/etc/configsync-cp/tls/ca.crt", "--listen", "0.0.0.0:8005", "--admin-listen", "0.0.0.0:8001", "--admin-token-file", "/etc/configsync-cp/admin/token", "--store", "/var/lib/configsync-cp"]

# GET /status on the admin API with the bearer token: 200 while the control plane runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/opt/configsync/bin/cp-healthcheck"]
