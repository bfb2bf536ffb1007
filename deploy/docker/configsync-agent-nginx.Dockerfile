# nginx and configsync-agent in one image, for the nginx example on Kubernetes
# (deploy/k8s/nginx-agent.yaml): the pod runs it twice, as the nginx container and as the agent
# sidecar, so that the agent's --on-change hook (examples/nginx/render.sh) has the same nginx
# binary to check the rendered routes with (`nginx -t`) and to signal the nginx container's
# master with (`nginx -s reload`, through the pod's shared process namespace). Built elsewhere,
# after the agent image:
#   docker build -f deploy/docker/configsync-agent-nginx.Dockerfile \
#       --build-arg AGENT=configsync-agent:0.1.0 -t configsync-agent-nginx:0.1.0 .
ARG AGENT=configsync-agent:0.1.0
FROM ${AGENT}

USER 0
# nginx and jq, as examples/nginx/install.sh installs them, but the distribution's plain `nginx`
# package rather than `nginx-light`, which newer Debian and Ubuntu releases (eclipse-temurin's base
# is Ubuntu) may no longer ship. The package's own service is not used.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx jq \
 && rm -rf /var/lib/apt/lists/*
COPY examples/nginx/render.sh /opt/configsync/examples/nginx/render.sh

USER 10001:10001
# The nginx prefix (conf/, logs/, tmp/) is shared by both containers of the pod.
VOLUME ["/var/lib/configsync", "/var/lib/nginx-configsync", "/tmp"]
