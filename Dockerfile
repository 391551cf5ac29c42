# The Baton appliance image: build the jar with Maven, run it on a JRE with iproute2 (for VIPs)
# and ping (for the witness). Containers need NET_ADMIN and NET_RAW (see docker-compose.yml).
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml ./
COPY config-store config-store
COPY host host
COPY health health
COPY forwarding forwarding
COPY ha-cluster ha-cluster
COPY appliance-core appliance-core
RUN mvn -B -q -DskipTests package

FROM eclipse-temurin:17-jre
RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 nftables iputils-ping curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/appliance-core/target/baton.jar /opt/baton/baton.jar
COPY packaging/jvm.options /opt/baton/jvm.options
ENTRYPOINT ["java", "@/opt/baton/jvm.options", "-jar", "/opt/baton/baton.jar"]
CMD ["--help"]
