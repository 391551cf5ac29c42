package io.baton.appliance.metrics;

import io.baton.cluster.wire.WireStats;
import io.baton.forwarding.Backend;
import io.baton.forwarding.Health;
import io.baton.forwarding.ServicePool;
import io.baton.forwarding.l7.L7Engine;
import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The node's statistics in Prometheus text format ({@code GET /metrics}). Values are read from
 * the engine at scrape time, so there is one source of truth and nothing to keep in step.
 */
public final class NodeMetrics {

    public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private final L7Engine engine;

    /**
     * @param wire        what the cluster wire refused (null until the node has joined)
     * @param persistence the source-ip persistence table (the active node's clients, replicated)
     */
    public NodeMetrics(L7Engine engine, Supplier<WireStats> wire, io.baton.forwarding.PersistenceTable persistence) {
        this.engine = engine;
        GaugeWithCallback.builder()
                .name("baton_persistence_entries")
                .help("Clients pinned to a real server in the source-ip persistence table (replicated from the"
                        + " active node)")
                .callback(callback -> callback.call(persistence.size()))
                .register(registry);
        CounterWithCallback.builder()
                .name("baton_persistence_refused")
                .help("New clients not pinned because the persistence table was full")
                .callback(callback -> callback.call(persistence.refusedWhenFull()))
                .register(registry);
        wireCounter(wire, "baton_cluster_connections_refused", "Cluster connections refused or closed before they"
                + " carried a message, by reason (not-a-node-address, not-authenticated, handshake-failed,"
                + " handshake-timeout, ...)", WireStats::refusedConnections);
        wireCounter(wire, "baton_cluster_messages_dropped", "Cluster messages dropped before they were acted on, by"
                + " reason (unknown-sender, malformed)", WireStats::droppedMessages);
        serverGauge("baton_server_active_connections", "Connections (http: requests) in progress to a real server",
                Backend::activeConnections);
        serverCounter("baton_server_connections", "Connections (http: requests) sent to a real server",
                Backend::totalConnections);
        serverCounter("baton_server_bytes_in", "Bytes from clients to a real server", Backend::bytesIn);
        serverCounter("baton_server_bytes_out", "Bytes from a real server to clients", Backend::bytesOut);
        serverCounter("baton_server_errors", "Failed connects, resets and timeouts of a real server", Backend::errors);
        serverGauge("baton_server_up", "1 if a real server's last health verdict is up or unknown, 0 if down",
                backend -> backend.health() == Health.DOWN ? 0 : 1);
        GaugeWithCallback.builder()
                .name("baton_service_active_connections")
                .help("Connections (http: requests) in progress for a virtual service")
                .labelNames("service")
                .callback(callback -> engine.pools().forEach(pool ->
                        callback.call(sum(pool, Backend::activeConnections), pool.name())))
                .register(registry);
        CounterWithCallback.builder()
                .name("baton_service_connections")
                .help("Connections (http: requests) handled by a virtual service")
                .labelNames("service")
                .callback(callback -> engine.pools().forEach(pool ->
                        callback.call(sum(pool, Backend::totalConnections), pool.name())))
                .register(registry);
        CounterWithCallback.builder()
                .name("baton_service_errors")
                .help("Clients of a virtual service turned away for want of a server")
                .labelNames("service")
                .callback(callback -> engine.pools().forEach(pool -> callback.call(pool.errors(), pool.name())))
                .register(registry);
        // limits (issue 15): what waits, what was turned away, and why
        serviceGauge("baton_service_client_connections", "Client connections open on a virtual service",
                ServicePool::clients);
        serviceGauge("baton_service_waiting", "Requests (tcp: connections) waiting for a server with a free slot",
                ServicePool::waiting);
        serviceCounter("baton_service_queued", "Requests (tcp: connections) that had to wait for a server slot",
                ServicePool::queuedTotal);
        serviceCounter("baton_service_queue_full",
                "Requests (tcp: connections) answered 503 (closed) because the queue was full", ServicePool::queueFullTotal);
        serviceCounter("baton_service_queue_timeouts",
                "Requests (tcp: connections) answered 503 (closed) after limits.queue-timeout in the queue",
                ServicePool::queueTimeoutsTotal);
        serviceCounter("baton_service_refused_clients",
                "Client connections refused at the service's limits.max-connections", ServicePool::refusedClients);
        serverGauge("baton_server_max_connections", "The most connections a real server gets at once",
                Backend::maxConnections);
        GaugeWithCallback.builder()
                .name("baton_certificate_expiry_timestamp_seconds")
                .help("When a certificate a TLS service serves expires (Unix time); renew it before")
                .labelNames("service", "certificate")
                .callback(callback -> engine.certificates().forEach((service, served) -> served.forEach(certificate ->
                        callback.call(certificate.notAfter().getEpochSecond(), service, certificate.certificateFile()))))
                .register(registry);
        GaugeWithCallback.builder()
                .name("baton_client_connections")
                .help("Client connections open on all l7-snat services of this node")
                .callback(callback -> callback.call(engine.clientsOpen()))
                .register(registry);
        CounterWithCallback.builder()
                .name("baton_refused_clients")
                .help("Client connections refused at the node's max-connections")
                .callback(callback -> callback.call(engine.refusedClients()))
                .register(registry);
    }

    private void serviceGauge(String name, String help, ToDoubleFunction<ServicePool> value) {
        GaugeWithCallback.builder()
                .name(name)
                .help(help)
                .labelNames("service")
                .callback(callback -> engine.pools().forEach(pool -> callback.call(value.applyAsDouble(pool), pool.name())))
                .register(registry);
    }

    private void serviceCounter(String name, String help, ToDoubleFunction<ServicePool> value) {
        CounterWithCallback.builder()
                .name(name)
                .help(help)
                .labelNames("service")
                .callback(callback -> engine.pools().forEach(pool -> callback.call(value.applyAsDouble(pool), pool.name())))
                .register(registry);
    }

    public String scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writer.write(out, registry.scrape(), EscapingScheme.UNDERSCORE_ESCAPING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    private void wireCounter(Supplier<WireStats> wire, String name, String help,
                             java.util.function.Function<WireStats, java.util.Map<String, Long>> counts) {
        CounterWithCallback.builder()
                .name(name)
                .help(help)
                .labelNames("reason")
                .callback(callback -> {
                    WireStats stats = wire.get();
                    if (stats != null) {
                        counts.apply(stats).forEach((reason, count) -> callback.call(count, reason));
                    }
                })
                .register(registry);
    }

    private void serverGauge(String name, String help, ToDoubleFunction<Backend> value) {
        GaugeWithCallback.builder()
                .name(name)
                .help(help)
                .labelNames("service", "server")
                .callback(callback -> forEachServer((pool, backend) ->
                        callback.call(value.applyAsDouble(backend), pool.name(), backend.name())))
                .register(registry);
    }

    private void serverCounter(String name, String help, ToDoubleFunction<Backend> value) {
        CounterWithCallback.builder()
                .name(name)
                .help(help)
                .labelNames("service", "server")
                .callback(callback -> forEachServer((pool, backend) ->
                        callback.call(value.applyAsDouble(backend), pool.name(), backend.name())))
                .register(registry);
    }

    private void forEachServer(java.util.function.BiConsumer<ServicePool, Backend> action) {
        for (ServicePool pool : engine.pools()) {
            pool.backends().forEach(backend -> action.accept(pool, backend));
            pool.fallback().ifPresent(backend -> action.accept(pool, backend));
        }
    }

    private static double sum(ServicePool pool, ToDoubleFunction<Backend> value) {
        double total = pool.backends().stream().mapToDouble(value).sum();
        return total + pool.fallback().map(value::applyAsDouble).orElse(0.0);
    }
}
