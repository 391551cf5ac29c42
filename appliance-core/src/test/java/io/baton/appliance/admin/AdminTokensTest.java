package io.baton.appliance.admin;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AdminTokensTest {

    @TempDir
    Path dir;

    @Test
    void aNewLineIsAFileOfOneTokenThatAuthenticates() throws Exception {
        String line = AdminTokens.newLine("ops", AdminTokens.Role.ADMIN);
        Path file = ownersOnly(line + "\n" + AdminTokens.newLine("prometheus", AdminTokens.Role.READ) + "\n");

        AdminTokens tokens = AdminTokens.load(file);

        assertThat(tokens.names()).containsExactly("ops", "prometheus");
        assertThat(tokens.authenticate(line.split(" ")[2]))
                .contains(new AdminTokens.Caller("ops", AdminTokens.Role.ADMIN));
        assertThat(tokens.authenticate(line.split(" ")[2] + "0")).isEmpty();
        assertThat(tokens.authenticate("")).isEmpty();
        assertThat(tokens.authenticate(null)).isEmpty();
    }

    @Test
    void aFileOthersCanReadIsRefusedWithTheFixNamed() throws Exception {
        Path file = ownersOnly(AdminTokens.newLine("ops", AdminTokens.Role.ADMIN) + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

        assertThatThrownBy(() -> AdminTokens.load(file)).hasMessageContaining("chmod 600");
        assertThatThrownBy(() -> AdminTokens.load(dir.resolve("missing"))).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> AdminTokens.load(dir)).hasMessageContaining("not a regular file");
    }

    @Test
    void everyMalformedLineIsNamedByItsNumber() {
        String secret = "s".repeat(AdminTokens.MIN_SECRET);
        assertThatThrownBy(() -> AdminTokens.parse("ops admin\n", "f")).hasMessage("f line 1: expected NAME ROLE SECRET,"
                + " found 2 field(s)");
        assertThatThrownBy(() -> AdminTokens.parse("# c\nops root " + secret, "f"))
                .hasMessageContaining("line 2").hasMessageContaining("neither admin nor read");
        assertThatThrownBy(() -> AdminTokens.parse("ops admin short", "f"))
                .hasMessageContaining("at least " + AdminTokens.MIN_SECRET);
        assertThatThrownBy(() -> AdminTokens.parse("ops admin " + secret + "\nops read " + secret + "x", "f"))
                .hasMessageContaining("line 2").hasMessageContaining("used twice");
        assertThatThrownBy(() -> AdminTokens.parse("../x admin " + secret, "f")).hasMessageContaining("token name");
        assertThatThrownBy(() -> AdminTokens.parse("ops admin " + "é".repeat(40), "f")).hasMessageContaining("printable");
        assertThatThrownBy(() -> AdminTokens.parse("# only comments\n\n", "f")).hasMessageContaining("has no token");
        assertThatThrownBy(() -> AdminTokens.newLine("a b", AdminTokens.Role.READ))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private Path ownersOnly(String text) throws Exception {
        Path file = dir.resolve("admin.tokens");
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }
}
