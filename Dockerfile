# clusterdns container image: docker build -t ghcr.io/clusterdns/clusterdns:0.1.0 .
# Two stages: `build` compiles the TypeScript with the dev dependencies; the runtime stage has the production
# dependencies, dist/ and package.json only, and runs as uid 65532. deploy/README.md explains the capability set-up.
# Pin NODE_IMAGE to a digest (node:24-bookworm-slim@sha256:...) for reproducible builds.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY lib ./lib
RUN npm run build

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
# Port 53 as a non-root user: give the node binary the file capability cap_net_bind_service (effective +
# permitted). The kernel grants it at exec only if NET_BIND_SERVICE is in the container's bounding set (the
# Deployment adds it after dropping ALL), and it is honoured under no_new_privs (allowPrivilegeEscalation: false)
# because the container process already holds it. Done last: once set, node refuses to start (EPERM) in a build
# container whose bounding set lacks NET_BIND_SERVICE. libcap2-bin is only needed for setcap itself.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")" \
 && getcap "$(readlink -f "$(command -v node)")" | grep -q cap_net_bind_service \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
# Numeric, so that the kubelet can check runAsNonRoot; the same uid/gid the Deployment states (distroless's nonroot).
USER 65532:65532
EXPOSE 53/udp 53/tcp 9153/tcp 8080/tcp 8181/tcp
ENTRYPOINT ["node", "dist/bin/clusterdns.js"]
CMD ["-conf", "/etc/coredns/Corefile"]
