package io.baton.appliance.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.baton.appliance.admin.AdminApi;
import io.baton.cluster.ClusterException;
import io.baton.cluster.wire.ClusterKeys;
import io.baton.config.BatonConfig;
import io.baton.config.ConfigError;
import io.baton.config.ConfigParser;
import io.baton.config.ConfigStore;
import io.baton.config.InvalidConfigException;
import io.baton.config.MalformedConfigException;
import io.baton.config.RevisionInfo;
import io.baton.config.StoreException;
import io.baton.config.StoredConfig;
import io.baton.health.CheckScripts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "config", mixinStandardHelpOptions = true,
        description = "Check, apply, show and roll back the appliance configuration.",
        subcommands = {ConfigCommand.Check.class, ConfigCommand.Apply.class, ConfigCommand.Show.class,
                ConfigCommand.Revisions.class, ConfigCommand.Rollback.class, ConfigCommand.Resolve.class,
                ConfigCommand.History.class})
final class ConfigCommand {

    @Command(name = "check", mixinStandardHelpOptions = true,
            header = "Validate a config file without applying it.",
            description = "Validate a config file (YAML, or JSON for *.json) without applying it. Every error is "
                    + "printed with its path and reason. A cluster.key-file present on this host is checked too, and"
                    + " every external check's script against the trusted directory (--checks-dir).",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:the file is valid", "1:the file has errors (all are printed)"})
    static final class Check implements Callable<Integer> {

        @Parameters(paramLabel = "FILE", description = "The config file to check.")
        Path file;

        @Option(names = "--checks-dir", paramLabel = "DIR", defaultValue = "/etc/baton/checks",
                description = "The trusted directory of external check scripts on this host, as the node is given it"
                        + " (default: ${DEFAULT-VALUE}); every script must be in it.")
        Path checksDir;

        @Override
        public Integer call() {
            try {
                BatonConfig config = ConfigParser.parseFile(file);
                List<ConfigError> scripts = new CheckScripts(checksDir).check(config, "on this host");
                if (!scripts.isEmpty()) {
                    System.err.println(file + ": " + scripts.size() + " error(s)");
                    scripts.forEach(error -> System.err.println("  " + error));
                    return ExitCodes.FAILED;
                }
                String keyFile = config.cluster().keyFile();
                if (keyFile != null && Files.exists(Path.of(keyFile))) {
                    try {
                        ClusterKeys.read(Path.of(keyFile));
                    } catch (ClusterException e) {
                        System.err.println(file + ": 1 error(s)");
                        System.err.println("  cluster.key-file: " + e.getMessage());
                        return ExitCodes.FAILED;
                    }
                } else if (keyFile != null) {
                    System.out.println("note: cluster.key-file " + keyFile + " is not on this host; every node needs"
                            + " it (baton keygen " + keyFile + ")");
                }
                System.out.println(file + ": valid");
                return ExitCodes.OK;
            } catch (InvalidConfigException e) {
                System.err.println(file + ": " + e.errors().size() + " error(s)");
                e.errors().forEach(error -> System.err.println("  " + error));
                return ExitCodes.FAILED;
            } catch (MalformedConfigException e) {
                System.err.println(file + ": " + e.getMessage());
                return ExitCodes.FAILED;
            } catch (NoSuchFileException e) {
                System.err.println(file + ": no such file");
                return ExitCodes.FAILED;
            } catch (IOException e) {
                System.err.println(file + ": cannot read: " + e.getMessage());
                return ExitCodes.FAILED;
            }
        }
    }

    @Command(name = "apply", mixinStandardHelpOptions = true,
            header = "Apply a config file on a running node.",
            description = "Send a config file to a running node, which validates it and has the cluster apply it as"
                    + " its next revision: the node that numbers revisions (the active node) stores it first, then"
                    + " every member. The answer names the members that store it and any that refused it, with"
                    + " their reasons. A rejected file changes nothing; every error is printed.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:applied (or already applied)", "1:rejected (all errors are printed), or stored but not"
                    + " running on the active node (its data plane failed to program: the reason is printed)",
                    "2:the node could not be reached"})
    static final class Apply implements Callable<Integer> {

        @Parameters(paramLabel = "FILE", description = "The config file to apply (YAML, or JSON for *.json).")
        Path file;

        @Mixin
        AdminOption admin;

        @Mixin
        ReasonOption reason;

        @Override
        public Integer call() throws NodeUnreachableException {
            String text;
            try {
                text = Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                System.err.println(file + ": cannot read: " + (e instanceof NoSuchFileException ? "no such file"
                        : e.getMessage()));
                return ExitCodes.FAILED;
            }
            String contentType = ConfigParser.Format.forFileName(file.getFileName().toString())
                    == ConfigParser.Format.JSON ? "application/json" : "application/yaml";
            AdminClient.Response response = reason.on(admin.client()).put(AdminApi.CONFIG, contentType, text);
            JsonNode body = response.json();
            if (response.status() == 200) {
                if (body.path("changed").asBoolean()) {
                    System.out.println("applied " + file + " as config revision " + body.path("revision").asLong()
                            + " (" + body.path("checksum").asText() + ")");
                } else {
                    System.out.println("unchanged: config revision " + body.path("revision").asLong()
                            + " already is " + file);
                }
                printMembers(body);
                if (!body.path("not-running").isEmpty()) {
                    System.err.println(file + ": stored as revision " + body.path("revision").asLong() + ", but "
                            + body.path("sequencer").asText() + " (the active node) does not run all of it:");
                    body.path("not-running").forEach(problem -> System.err.println("  " + problem.asText()));
                    return ExitCodes.FAILED;
                }
                return ExitCodes.OK;
            }
            System.err.println(file + ": rejected by the node: " + response.error());
            printErrors(body);
            return ExitCodes.FAILED;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Print the config a running node applies, with its revision and checksum, as JSON.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:printed", "2:the node could not be reached"})
    static final class Show implements Callable<Integer> {

        @Mixin
        AdminOption admin;

        @Override
        public Integer call() throws NodeUnreachableException {
            AdminClient.Response response = admin.client().get(AdminApi.CONFIG);
            if (response.status() != 200) {
                System.err.println("the node answered " + response.status() + ": " + response.error());
                return ExitCodes.FAILED;
            }
            System.out.print(response.body());
            return ExitCodes.OK;
        }
    }

    @Command(name = "revisions", mixinStandardHelpOptions = true,
            description = "List the kept config revisions (the last " + ConfigStore.KEPT_REVISIONS + ").",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:listed", "1:the store cannot be read", "2:the node could not be reached"})
    static final class Revisions implements Callable<Integer> {

        @Option(names = "--store", paramLabel = "DIR",
                description = "Work on the config store of a stopped node (its --state-dir) instead of a running node.")
        Path storeDir;

        @Mixin
        AdminOption admin;

        @Override
        public Integer call() throws NodeUnreachableException {
            if (storeDir != null) {
                try (ConfigStore store = ConfigStore.openForRecovery(storeDir)) {
                    long applied = store.current().map(StoredConfig::revision).orElse(-1L);
                    for (RevisionInfo info : store.revisions()) {
                        System.out.println(line(info.revision(), info.revision() == applied, info.intact()
                                ? info.appliedAt() + "  " + info.source() : "UNUSABLE: " + info.problem()));
                    }
                    return ExitCodes.OK;
                } catch (StoreException e) {
                    System.err.println("baton config revisions: " + e.getMessage());
                    return ExitCodes.FAILED;
                }
            }
            AdminClient.Response response = admin.client().get(AdminApi.CONFIG_REVISIONS);
            if (response.status() != 200) {
                System.err.println("the node answered " + response.status() + ": " + response.error());
                return ExitCodes.FAILED;
            }
            for (JsonNode info : response.json().path("revisions")) {
                System.out.println(line(info.path("revision").asLong(), info.path("applied").asBoolean(),
                        info.path("intact").asBoolean() ? info.path("appliedAt").asText() + "  "
                                + info.path("source").asText() : "UNUSABLE: " + info.path("problem").asText()));
            }
            return ExitCodes.OK;
        }

        private static String line(long revision, boolean applied, String detail) {
            return String.format("%6d %s %s", revision, applied ? "*" : " ", detail);
        }
    }

    @Command(name = "rollback", mixinStandardHelpOptions = true,
            header = "Apply a kept revision again, as a new revision.",
            description = "Apply a kept revision again, as a new revision. On a stopped node whose store is damaged "
                    + "(it refuses to start), use --store with its state directory to recover.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:rolled back", "1:the revision is not kept or cannot be used",
                    "2:the node could not be reached"})
    static final class Rollback implements Callable<Integer> {

        @Parameters(paramLabel = "REV", description = "The revision to restore (see: baton config revisions).")
        long revision;

        @Option(names = "--store", paramLabel = "DIR",
                description = "Work on the config store of a stopped node (its --state-dir) instead of a running node.")
        Path storeDir;

        @Mixin
        AdminOption admin;

        @Mixin
        ReasonOption reason;

        @Override
        public Integer call() throws NodeUnreachableException {
            if (storeDir != null) {
                try (ConfigStore store = ConfigStore.openForRecovery(storeDir)) {
                    StoredConfig restored = store.rollback(revision);
                    System.out.println("restored revision " + revision + " as config revision " + restored.revision()
                            + " in " + storeDir);
                    System.out.println("note: this revision is this node's own, not the cluster's. When the node"
                            + " starts and rejoins a running cluster, the cluster keeps its config and shows this node"
                            + " as diverged until you run, on it, `baton config resolve --take-cluster` or"
                            + " `--push-local` (to make this config the cluster's).");
                    return ExitCodes.OK;
                } catch (StoreException e) {
                    System.err.println("baton config rollback: " + e.getMessage());
                    return ExitCodes.FAILED;
                }
            }
            AdminClient.Response response = reason.on(admin.client()).post(AdminApi.CONFIG_ROLLBACK,
                    "{\"revision\": " + revision + "}");
            if (response.status() != 200) {
                System.err.println("baton config rollback: " + response.error());
                printErrors(response.json());
                return ExitCodes.FAILED;
            }
            System.out.println("restored revision " + revision + " as config revision "
                    + response.json().path("revision").asLong());
            printMembers(response.json());
            return ExitCodes.OK;
        }
    }

    @Command(name = "resolve", mixinStandardHelpOptions = true,
            header = "Settle a node whose config history diverged from the cluster's.",
            description = {"Run on the node that `baton status` shows as diverged: its history holds a revision"
                    + " the cluster's does not (applies made on both sides of a cut cluster link, or `config"
                    + " rollback --store` on a stopped node). Until it is resolved the node stores no revision and"
                    + " takes no part in elections.",
                    "--take-cluster: keep the cluster's config; this node's diverged revisions are moved to a"
                            + " diverged-* directory in its state directory (not deleted).",
                    "--push-local: keep this node's config: it is applied as the cluster's next revision, then"
                            + " this node takes the cluster's history."},
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:resolved", "1:not diverged, or the change was refused", "2:the node could not be reached"})
    static final class Resolve implements Callable<Integer> {

        @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
        Choice choice;

        static final class Choice {
            @Option(names = "--take-cluster", required = true, description = "Take the cluster's history.")
            boolean cluster;

            @Option(names = "--push-local", required = true,
                    description = "Apply this node's config as the cluster's next revision.")
            boolean local;
        }

        @Mixin
        AdminOption admin;

        @Mixin
        ReasonOption reason;

        @Override
        public Integer call() throws NodeUnreachableException {
            AdminClient.Response response = reason.on(admin.client()).post(AdminApi.CONFIG_RESOLVE,
                    "{\"take\": \"" + (choice.cluster ? "cluster" : "local") + "\"}");
            if (response.status() != 200) {
                System.err.println("baton config resolve: " + response.error());
                printErrors(response.json());
                return ExitCodes.FAILED;
            }
            System.out.println(response.json().path("resolved").asText());
            if (choice.local) {
                printMembers(response.json());
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "history", mixinStandardHelpOptions = true,
            header = "Who changed what, from where and why: the cluster's audit trail.",
            description = "Every change operators made through any node (apply, rollback, resolve, drain, halt,"
                    + " online, failover), oldest first: when, through which node, the token's name and the caller's"
                    + " address, the config revision, a short summary of what changed, and the reason given with"
                    + " --reason. Every node keeps the whole trail (the newest 1000 changes), also of the changes"
                    + " made while it was away.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:printed", "1:the node refused", "2:the node could not be reached"})
    static final class History implements Callable<Integer> {

        @Option(names = "--json", description = "Print the API's JSON answer.")
        boolean json;

        @Mixin
        AdminOption admin;

        @Override
        public Integer call() throws NodeUnreachableException {
            AdminClient.Response response = admin.client().get(AdminApi.AUDIT);
            if (response.status() != 200) {
                System.err.println("baton config history: " + response.error());
                return ExitCodes.FAILED;
            }
            if (json) {
                System.out.print(response.body());
                return ExitCodes.OK;
            }
            JsonNode changes = response.json().path("changes");
            if (changes.isEmpty()) {
                System.out.println("no change recorded yet");
            }
            for (JsonNode change : changes) {
                String peer = change.path("peer").asText();
                String reason = change.path("reason").asText();
                System.out.println(change.path("at").asText() + "  " + change.path("node").asText() + "  "
                        + change.path("action").asText() + "  revision " + change.path("revision").asLong()
                        + "  by " + change.path("caller").asText() + (peer.isEmpty() ? "" : " from " + peer)
                        + (reason.isEmpty() ? "" : "  because: " + reason)
                        + "\n    " + change.path("summary").asText());
            }
            return ExitCodes.OK;
        }
    }

    /** Which members store the revision an answer names, and the warnings that came with it. */
    static void printMembers(JsonNode body) {
        JsonNode members = body.path("members");
        if (members.isObject()) {
            java.util.List<String> stored = new java.util.ArrayList<>();
            members.path("stored").forEach(node -> stored.add(node.asText()));
            System.out.println("  stored by: " + String.join(", ", stored));
        }
        for (JsonNode warning : body.path("warnings")) {
            System.out.println("  warning: " + warning.asText());
        }
    }

    /** The {@code errors} of a 422 answer, one per line with its path. */
    private static void printErrors(JsonNode body) {
        for (JsonNode error : body.path("errors")) {
            System.err.println("  " + error.path("path").asText() + ": " + error.path("message").asText());
        }
    }
}
