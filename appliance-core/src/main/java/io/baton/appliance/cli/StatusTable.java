package io.baton.appliance.cli;

import io.baton.appliance.admin.StatusReport;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/** Renders a {@link StatusReport} as the tables {@code baton status} prints. */
public final class StatusTable {

    private StatusTable() {
    }

    public static String render(StatusReport report) {
        StringBuilder out = new StringBuilder();
        out.append("Cluster ").append(report.cluster()).append(", seen from node ").append(report.node()).append('\n');
        for (String warning : report.warnings()) {
            out.append(red("WARNING: " + warning)).append('\n');
        }
        StatusReport.ConfigSummary config = report.config();
        out.append("Config revision ").append(config.revision()).append("  ").append(shortChecksum(config.checksum()))
                .append("  applied ").append(config.appliedAt()).append(" from ").append(config.source())
                .append('\n');
        out.append("Server states version ").append(config.serverStates()).append(": ")
                .append(config.serverStatesSet() == 0 ? "no server's state set by an operator"
                        : config.serverStatesSet() + " server(s) with a state set by an operator (marked *)")
                .append("\n\n");

        Table nodes = new Table("NODE", "ROLE", "PRIORITY", "REVISION", "CHECKSUM", "HISTORY", "CLUSTER ADDRESS",
                "ADMIN", "WHY");
        for (StatusReport.NodeStatus node : report.nodes()) {
            String history = node.history() == null ? "-" : node.history().equals("diverged") ? "DIVERGED"
                    : node.history();
            nodes.row(node.id() + (node.self() ? " *" : ""), node.role(), String.valueOf(node.priority()),
                    node.revision() == null ? "-" : String.valueOf(node.revision()),
                    node.checksum() == null ? "-" : shortChecksum(node.checksum()), history, node.clusterAddress(),
                    node.adminAddress(), node.reason() == null ? "" : node.reason());
        }
        out.append(nodes);
        StatusReport.Failover failover = report.lastFailover();
        out.append("Last failover: ").append(failover == null ? "none since this node started"
                : failover.at() + " " + (failover.from() == null ? "(none)" : failover.from()) + " -> "
                + (failover.to() == null ? "(none)" : failover.to()) + " (epoch " + failover.epoch() + "): "
                + failover.reason()).append("\n\n");

        Table vips = new Table("VIP", "ADDRESS", "INTERFACE", "HOLDER");
        for (StatusReport.VipStatus vip : report.vips()) {
            vips.row(vip.name(), vip.address(), vip.iface(), vip.holder() == null ? "-" : vip.holder());
        }
        out.append(vips).append('\n');

        Table services = new Table("SERVICE", "VIP", "PORTS", "MODE", "BALANCE", "SCHEDULER", "PERSISTENCE",
                "ACTIVE", "TOTAL", "ERRORS");
        Table servers = new Table("SERVICE", "SERVER", "ADDRESS", "WEIGHT", "STATE", "HEALTH", "ACTIVE", "TOTAL",
                "BYTES IN", "BYTES OUT", "ERRORS", "LAST CHECK");
        Table kernel = new Table("SERVICE", "SERVER", "IN TABLE", "SLOTS", "PACKETS", "BYTES", "NOTE");
        Table limits = new Table("SERVICE", "CLIENTS", "REFUSED", "PER SERVER", "WAITING", "QUEUE TIMEOUT", "QUEUED",
                "QUEUE FULL", "TIMED OUT");
        Table certificates = new Table("SERVICE", "CERTIFICATE", "NAMES", "EXPIRES", "DAYS LEFT");
        List<String> notes = new ArrayList<>();
        for (StatusReport.ServiceStatus service : report.services()) {
            for (StatusReport.CertificateStatus certificate : service.certificates()) {
                certificates.row(service.name(), certificate.file(), String.join(",", certificate.names()),
                        certificate.notAfter(), String.valueOf(certificate.daysLeft()));
                if (certificate.warning() != null) {
                    notes.add(service.name() + ": certificate " + certificate.file() + " " + certificate.warning());
                }
            }
            StatusReport.Stats stats = service.stats();
            services.row(service.name(), service.vip() + (service.address() == null ? "" : " " + service.address()),
                    service.ports().stream().map(String::valueOf).collect(Collectors.joining(",")),
                    service.mode(), service.balance(), service.scheduler(), service.persistence(),
                    stats == null ? "-" : String.valueOf(stats.active()), stats == null ? "-" : String.valueOf(stats.total()),
                    stats == null ? "-" : String.valueOf(stats.errors()));
            if (stats == null) {
                notes.add(service.name() + ": " + service.dataPlane());
            }
            StatusReport.LimitStatus limit = service.limits();
            if (limit != null) {
                limits.row(service.name(), limit.clients() + "/" + limit.maxClients(), String.valueOf(limit.refusedClients()),
                        String.valueOf(limit.serverMaxConnections()), limit.waiting() + "/" + limit.queue(),
                        limit.queueTimeout(), String.valueOf(limit.queued()), String.valueOf(limit.queueFull()),
                        String.valueOf(limit.queueTimeouts()));
            }
            service.listeners().stream().filter(listener -> listener.contains("NOT LISTENING"))
                    .forEach(listener -> notes.add(service.name() + ": " + listener));
            for (StatusReport.ServerStatus server : service.servers()) {
                StatusReport.Stats s = server.stats();
                servers.row(service.name(), server.name(), server.address(), String.valueOf(server.weight()),
                        server.state() + (server.stateSetBy() == null ? "" : "*"), server.health(),
                        s == null ? "-" : s.active() + (server.maxConnections() == null ? "" : "/" + server.maxConnections()),
                        s == null ? "-" : String.valueOf(s.total()), s == null ? "-" : String.valueOf(s.bytesIn()),
                        s == null ? "-" : String.valueOf(s.bytesOut()), s == null ? "-" : String.valueOf(s.errors()),
                        server.lastCheck() == null ? "-" : server.lastCheck());
                StatusReport.KernelEntry entry = server.kernel();
                if (entry != null) {
                    kernel.row(service.name(), server.name(), entry.inTable() ? "yes" : "no",
                            entry.slots() + "/" + entry.tableSize(), String.valueOf(entry.packets()),
                            String.valueOf(entry.bytes()), entry.note() == null ? "" : entry.note());
                }
            }
        }
        out.append(services).append('\n').append(servers);
        if (!limits.isEmpty()) {
            StatusReport.Clients clients = report.clients();
            out.append('\n').append(limits);
            if (clients != null) {
                out.append("Client connections on this node: ").append(clients.open()).append(" of ")
                        .append(clients.max()).append(" (max-connections), ").append(clients.refused())
                        .append(" refused at it\n");
            }
        }
        if (!kernel.isEmpty()) {
            out.append('\n').append(kernel);
        }
        if (!certificates.isEmpty()) {
            out.append('\n').append(certificates);
        }
        if (!notes.isEmpty()) {
            out.append('\n');
            notes.forEach(note -> out.append("! ").append(note).append('\n'));
        }
        out.append("\n* this node\n");
        return out.toString();
    }

    /** Red on a terminal, plain in a pipe or a file. */
    private static String red(String text) {
        return System.console() != null ? "\u001B[31m" + text + "\u001B[0m" : text;
    }

    private static String shortChecksum(String checksum) {
        return checksum.length() > 19 ? checksum.substring(0, 19) : checksum;
    }

    /** Left-aligned columns, two spaces apart, sized to their widest cell. */
    private static final class Table {

        private final List<String[]> rows = new ArrayList<>();

        Table(String... header) {
            rows.add(header);
        }

        void row(String... cells) {
            rows.add(cells);
        }

        boolean isEmpty() {
            return rows.size() == 1;
        }

        @Override
        public String toString() {
            int columns = rows.get(0).length;
            int[] widths = new int[columns];
            for (String[] row : rows) {
                for (int i = 0; i < columns; i++) {
                    widths[i] = Math.max(widths[i], row[i].length());
                }
            }
            StringBuilder out = new StringBuilder();
            for (String[] row : rows) {
                StringBuilder line = new StringBuilder();
                for (int i = 0; i < columns; i++) {
                    line.append(row[i]);
                    if (i < columns - 1) {
                        line.append(" ".repeat(widths[i] - row[i].length() + 2));
                    }
                }
                out.append(line.toString().stripTrailing()).append('\n');
            }
            return out.toString();
        }
    }
}
