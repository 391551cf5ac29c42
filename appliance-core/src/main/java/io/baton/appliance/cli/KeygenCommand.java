package io.baton.appliance.cli;

import io.baton.cluster.ClusterException;
import io.baton.cluster.wire.ClusterKeys;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "keygen", mixinStandardHelpOptions = true,
        header = "Make the cluster key file, or rotate its key.",
        description = {"Write a new cluster key file (256 random bits, mode 0600). Every node of a cluster needs the "
                + "same file, named by cluster.key-file: copy it to each node (scp -p keeps the mode). Cluster "
                + "traffic is mutual TLS between nodes vouched for by this key; a cluster of more than one node does "
                + "not start without it.",
                "",
                "Key rotation without downtime: (1) on one node `baton keygen --add FILE`, copy FILE to every node "
                        + "(each node reads it again within seconds and accepts both keys); (2) once every node has "
                        + "it, `baton keygen --drop-old FILE` and copy FILE to every node again."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:written", "1:refused (the file exists, is not a key file, ...)"})
final class KeygenCommand implements Callable<Integer> {

    @Parameters(paramLabel = "FILE", description = "The key file, e.g. /etc/baton/cluster.key.")
    Path file;

    @ArgGroup(exclusive = true)
    Rotation rotation = new Rotation();

    static final class Rotation {
        @Option(names = "--add", description = "Add a new key to an existing file (step 1 of a rotation).")
        boolean add;

        @Option(names = "--drop-old", description = "Keep only the newest key of the file (step 2 of a rotation).")
        boolean dropOld;
    }

    @Override
    public Integer call() {
        try {
            if (rotation.dropOld) {
                String kept = ClusterKeys.dropOld(file);
                System.out.println(file + ": only key " + kept + " is left; copy it to every node of the cluster");
                return ExitCodes.OK;
            }
            String id = rotation.add ? ClusterKeys.add(file) : ClusterKeys.generate(file);
            if (rotation.add) {
                System.out.println(file + ": key " + id + " added; now " + ClusterKeys.read(file).ids()
                        + ". Copy it to every node (scp -p " + file + " NODE:" + file + "); when all have it, run"
                        + " baton keygen --drop-old " + file + " and copy it again.");
            } else {
                System.out.println("wrote cluster key " + id + " to " + file + " (mode 0600). Copy it to every node"
                        + " of the cluster (scp -p " + file + " NODE:" + file + ") and name it in the config as"
                        + " cluster.key-file: " + file.toAbsolutePath());
            }
            return ExitCodes.OK;
        } catch (ClusterException | IOException e) {
            System.err.println("baton keygen: " + e.getMessage());
            return ExitCodes.FAILED;
        }
    }
}
