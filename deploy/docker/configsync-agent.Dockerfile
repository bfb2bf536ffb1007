# configsync-agent, the sidecar. Built elsewhere (CI here has no Docker engine), from the
# repository root after `mvn -B package -DskipTests`:
#   docker build -f deploy/docker/configsync-agent.Dockerfile -t configsync-agent:0.1.0 .
# Checked on every `mvn -B verify` by system-tests' DeployFilesTest (jar path, flags, user, paths).
ARG BASE=eclipse-temurin:17-jre
FROM ${BASE}

# The self-contained jar of module agent.
COPY agent/target/configsync-agent.jar /opt/configsync/configsync-agent.jar
# The launcher (JVM options from the sizing measurements, docs/operations.md) and what it sources;
# it runs /opt/configsync/configsync-agent.jar, beside its bin/ directory.
COPY bin/configsync-agent /opt/configsync/bin/configsync-agent
COPY bin/configsync-jvm.sh /opt/configsync/bin/configsync-jvm.sh

# A numeric user that owns nothing in the image: the root filesystem may be read-only. Every path
# written is a volume: the cache directory (config.json.gz, node.id, status.json, agent.lock; keep
# it across restarts so that a restarted agent serves the cached configuration) and /tmp.
USER 10001:10001
VOLUME ["/var/lib/configsync", "/tmp"]

# The launcher's JVM options (collector, heap: docs/operations.md, "Sizing") and
# -XX:+ExitOnOutOfMemoryError (an orchestrator restarts a process out of heap rather than leaving
# it half-working). JAVA_OPTS here adds -XX:-UsePerfData (no hsperfdata file in /tmp); set
# CONFIGSYNC_JAVA_OPTS to add or override options (-Xmx, a collector), JAVA_OPTS to replace these.
ENV JAVA_OPTS="-XX:-UsePerfData"
ENTRYPOINT ["/opt/configsync/bin/configsync-agent"]
# No useful default: `run` needs the control plane's address and the node's certificate.
CMD ["--help"]

# `status --cache-dir` exits 0 while an agent runs on the directory, 1 otherwise (docs/agent.md).
# Exec form, no shell. A short-lived JVM: C1 only, small heap.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["java", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1", "-Xmx32m", "-jar", "/opt/configsync/configsync-agent.jar", "status", "--cache-dir", "/var/lib/configsync"]
