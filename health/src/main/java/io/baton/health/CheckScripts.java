package io.baton.health;

import io.baton.config.BatonConfig;
import io.baton.config.CheckType;
import io.baton.config.ConfigError;
import io.baton.config.HealthCheck;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The programs an {@code external} check may run: those in this node's trusted directory (its own
 * setting, never the replicated config's: a config that reaches one node through the API or the
 * cluster must not name a program that then runs as root on every node). A script is named by its
 * file name or by a path; either way it must resolve, symbolic links followed, to an executable
 * regular file inside the directory that only its owner may write.
 */
public final class CheckScripts {

    /** Where a node looks for check programs unless told otherwise ({@code baton node --checks-dir}). */
    public static final Path DEFAULT_DIRECTORY = Path.of("/etc/baton/checks");

    /** A script as found: the real path to run. */
    public record Resolved(Path path) {
    }

    private final Path directory;

    public CheckScripts(Path directory) {
        this.directory = directory.toAbsolutePath().normalize();
    }

    public Path directory() {
        return directory;
    }

    /**
     * The external checks of {@code config} whose scripts this node would not run, each with its
     * field ({@code services[i].check.script}) and reason; {@code where} ends the reason ("on node lb1").
     */
    public List<ConfigError> check(BatonConfig config, String where) {
        List<ConfigError> errors = new ArrayList<>();
        for (int i = 0; i < config.services().size(); i++) {
            HealthCheck check = config.services().get(i).check();
            if (check != null && check.type() == CheckType.EXTERNAL && check.script() != null) {
                try {
                    resolve(check.script());
                } catch (IOException e) {
                    errors.add(new ConfigError("services[" + i + "].check.script",
                            '"' + check.script() + "\" " + e.getMessage() + " " + where));
                }
            }
        }
        return errors;
    }

    /**
     * The program {@code script} names, resolved inside the trusted directory.
     *
     * @throws IOException with the reason, worded to follow the script's name
     */
    public Resolved resolve(String script) throws IOException {
        if (script == null || script.isBlank()) {
            throw new IOException("is empty");
        }
        Path named;
        try {
            named = directory.resolve(script).normalize();
        } catch (InvalidPathException e) {
            throw new IOException("is not a path: " + e.getReason());
        }
        if (!named.startsWith(directory)) {
            throw new IOException("is outside the trusted check directory " + directory + " (put the script there,"
                    + " or give the node another with --checks-dir)");
        }
        Path realDirectory;
        try {
            realDirectory = directory.toRealPath();
        } catch (IOException e) {
            throw new IOException("cannot be run: the trusted check directory " + directory + " does not exist on this"
                    + " node");
        }
        Path real;
        try {
            real = named.toRealPath();
        } catch (IOException e) {
            throw new IOException("is not there (in " + directory + ")");
        }
        if (!real.startsWith(realDirectory)) {
            throw new IOException("is a symbolic link out of the trusted check directory " + directory + " (to " + real
                    + ")");
        }
        if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS) || !Files.isExecutable(real)) {
            throw new IOException("is not an executable file");
        }
        Set<PosixFilePermission> permissions;
        try {
            permissions = Files.getPosixFilePermissions(real);
        } catch (UnsupportedOperationException e) {
            permissions = Set.of();
        }
        if (permissions.contains(PosixFilePermission.GROUP_WRITE) || permissions.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IOException("may be changed by others than its owner (" + java.nio.file.attribute.PosixFilePermissions
                    .toString(permissions) + "): chmod go-w " + real);
        }
        return new Resolved(real);
    }
}
