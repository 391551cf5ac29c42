package io.baton.health;

import io.baton.config.ConfigParser;
import io.baton.config.HealthCheck;
import io.baton.health.check.Checker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Every check type against a real peer. DCMTK must be installed (run-tests installs it). */
class CheckersTest {

    @TempDir
    Path dir;

    private final Peers peers = new Peers();

    @AfterEach
    void stop() throws Exception {
        peers.close();
    }

    @Test
    void dicomEchoSucceedsAgainstStorescp() throws Exception {
        int port = peers.storescp(dir);

        CheckResult result = run("{ type: dicom-echo, called-ae: PACS, calling-ae: BATON }", port);

        assertThat(result.up()).as(result.reason()).isTrue();
        assertThat(result.reason()).isEqualTo("C-ECHO status 0x0000");
    }

    @Test
    void dicomEchoNamesTheRejectionOfAWrongCalledAeTitle() throws Exception {
        int port = peers.dcmqrscp(dir);

        assertThat(run("{ type: dicom-echo, called-ae: PACS }", port).up()).isTrue();
        CheckResult wrong = run("{ type: dicom-echo, called-ae: NOT-PACS }", port);

        assertThat(wrong.up()).isFalse();
        assertThat(wrong.reason()).isEqualTo("association rejected (called AE title not recognised)");
    }

    @Test
    void dicomEchoKnowsAPeerThatIsNotDicom() throws Exception {
        int http = peers.tcp("HTTP/1.1 400 Bad Request\r\n\r\n");
        int silent = peers.tcp(null);

        CheckResult notDicom = run("{ type: dicom-echo }", http);
        CheckResult timeout = run("{ type: dicom-echo, timeout: 300ms }", silent);

        assertThat(notDicom.up()).isFalse();
        assertThat(notDicom.reason()).startsWith("not a DICOM peer (it answered \"HTTP/1");
        assertThat(timeout.up()).isFalse();
        assertThat(timeout.reason()).isEqualTo("no answer within 300 ms (waiting for the answer to A-ASSOCIATE-RQ)");
        assertThat(run("{ type: dicom-echo }", Peers.freePort()).reason()).isEqualTo("connection refused");
    }

    @Test
    void dicomFindAsksDcmqrscpForTodaysStudiesAndIsUpWithOrWithoutAMatch() throws Exception {
        int port = peers.dcmqrscp(dir);

        CheckResult empty = run("{ type: dicom-find, called-ae: PACS }", port);
        assertThat(empty.up()).as(empty.reason()).isTrue();
        assertThat(empty.reason()).isEqualTo("C-FIND status 0x0000 (no study of today)");

        peers.storeStudyOfToday(dir, port);
        CheckResult matched = run("{ type: dicom-find, called-ae: PACS, calling-ae: LB-CHECK }", port);
        assertThat(matched.up()).as(matched.reason()).isTrue();
        assertThat(matched.reason()).containsAnyOf("C-FIND matched a study of today (cancelled after the first match)",
                "C-FIND status 0x0000 (a study of today matched)");
    }

    @Test
    void dicomFindNamesARejectionAPeerWithoutQueryAndAFailureStatus() throws Exception {
        int archive = peers.dcmqrscp(dir);
        int storeOnly = peers.storescp(dir);
        int failing = peers.dicomFindFailing(0xA700, "too many queries");

        CheckResult wrong = run("{ type: dicom-find, called-ae: NOT-PACS }", archive);
        assertThat(wrong.reason()).isEqualTo("association rejected (called AE title not recognised)");
        CheckResult noQuery = run("{ type: dicom-find }", storeOnly);
        assertThat(noQuery.up()).isFalse();
        assertThat(noQuery.reason()).isEqualTo("Study Root Query/Retrieve FIND not accepted (abstract syntax not supported)");
        CheckResult refused = run("{ type: dicom-find }", failing);
        assertThat(refused.up()).isFalse();
        assertThat(refused.reason()).isEqualTo("C-FIND status 0xA700 (refused: out of resources): too many queries");
        assertThat(run("{ type: dicom-find, timeout: 300ms }", peers.tcp(null)).reason())
                .isEqualTo("no answer within 300 ms (waiting for the answer to A-ASSOCIATE-RQ)");
        assertThat(run("{ type: dicom-find }", peers.tcp("HTTP/1.1 400 Bad Request\r\n\r\n")).reason())
                .startsWith("not a DICOM peer (it answered \"HTTP/1");
    }

    @Test
    void httpJudgesStatusAndBody() throws Exception {
        int port = peers.http();

        assertThat(run("{ type: http, path: /ok }", port).reason()).isEqualTo("HTTP 200");
        CheckResult busy = run("{ type: http, path: /busy }", port);
        assertThat(busy.up()).isFalse();
        assertThat(busy.reason()).isEqualTo("HTTP 503 (expected 200)");
        assertThat(run("{ type: http, path: /busy, expect: [200, 503] }", port).up()).isTrue();
        assertThat(run("{ type: http, path: /ok, body-regex: 'all go+d' }", port).up()).isTrue();
        assertThat(run("{ type: http, path: /ok, body-regex: 'broken' }", port).reason())
                .isEqualTo("HTTP 200 but the body does not match /broken/");
        CheckResult hung = run("{ type: http, path: /hang, timeout: 300ms }", port);
        assertThat(hung.up()).isFalse();
        assertThat(hung.reason()).isEqualTo("no answer within 300 ms (waiting for the HTTP status line)");
    }

    @Test
    void connectFailsOnAClosedPort() throws Exception {
        int open = peers.tcp(null);
        int closed = Peers.freePort();

        assertThat(run("{ type: connect }", open).up()).isTrue();
        CheckResult refused = run("{ type: connect }", closed);
        assertThat(refused.up()).isFalse();
        assertThat(refused.reason()).isEqualTo("connection refused");
    }

    @Test
    void mailAndFtpGreetingsAreJudged() throws Exception {
        assertThat(run("{ type: smtp }", peers.tcp("220 mail.example ESMTP ready\r\n")).reason())
                .isEqualTo("SMTP greeting 220 mail.example ESMTP ready");
        assertThat(run("{ type: smtp }", peers.tcp("554 no service\r\n")).up()).isFalse();
        assertThat(run("{ type: ftp }", peers.tcp("220 FTP server ready\r\n")).up()).isTrue();
        assertThat(run("{ type: ftp }", peers.tcp("421 too many users\r\n")).up()).isFalse();
        assertThat(run("{ type: pop3 }", peers.tcp("+OK POP3 ready\r\n")).up()).isTrue();
        assertThat(run("{ type: imap }", peers.tcp("* OK IMAP4rev1 ready\r\n")).up()).isTrue();
        assertThat(run("{ type: imap }", peers.tcp("* BYE going away\r\n")).up()).isFalse();
    }

    @Test
    void anExternalScriptGetsTheLoadbalancerOrgArgumentsAndExitZeroIsUp() throws Exception {
        Path script = script("check.sh", """
                #!/bin/sh
                echo "vip=$1 vport=$2 rip=$3 rport=$4 env=$RIP:$RPORT"
                [ "$4" = "%d" ]
                """.formatted(4242));

        CheckResult up = runHere("{ type: external, script: '" + script + "' }", 4242);
        CheckResult down = runHere("{ type: external, script: '" + script + "' }", 4243);

        assertThat(up.up()).as(up.reason()).isTrue();
        assertThat(up.reason()).isEqualTo("script exit 0: vip=127.0.0.100 vport=80 rip=127.0.0.1 rport=4242"
                + " env=127.0.0.1:4242");
        assertThat(down.reason()).startsWith("script exit 1");
    }

    @Test
    void aScriptRunsWithoutAnyOfTheNodesCapabilitiesAndCannotGainAny() throws Exception {
        Path script = script("privilege.sh", """
                #!/bin/sh
                grep -E '^(CapPrm|CapEff|CapAmb|CapBnd|NoNewPrivs)' /proc/self/status | tr -s '\\t\\n' '  '
                """);

        CheckResult result = runHere("{ type: external, script: '" + script + "' }", 1);

        assertThat(result.reason()).as("what the script holds (the test runs as root, as CI does)")
                .contains("CapPrm: 0000000000000000").contains("CapEff: 0000000000000000")
                .contains("CapAmb: 0000000000000000").contains("NoNewPrivs: 1");
    }

    @Test
    void aHangingScriptIsKilledWithItsChildrenAtTheTimeout() throws Exception {
        Path marker = dir.resolve("child.pid");
        Path script = script("hang.sh", """
                #!/bin/sh
                sleep 300 &
                echo $! > %s
                wait
                """.formatted(marker));

        CheckResult result = runHere("{ type: external, script: '" + script + "', timeout: 500ms }", 1);

        assertThat(result.up()).isFalse();
        assertThat(result.reason()).endsWith("killed after 500 ms");
        long child = Long.parseLong(Files.readString(marker).strip());
        await().atMost(Duration.ofSeconds(5)).until(() -> ProcessHandle.of(child).map(h -> !h.isAlive()).orElse(true));
    }

    @Test
    void aScriptThatPrintsWithoutEndCostsNeitherMemoryNorDisk() throws Exception {
        Path flood = script("flood.sh", "#!/bin/sh\nhead -c 150000000 /dev/zero | tr '\\0' x\necho\nexit 3\n");
        Path endless = script("endless.sh", "#!/bin/sh\nwhile :; do echo spam; done\n");
        List<Path> before = tempFiles();
        // every thread's allocations count (the output is read on a thread of its own): each heap pool's
        // peak since now, less what it held now, bounds what was allocated meanwhile
        List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(pool -> pool.getType() == MemoryType.HEAP).toList();
        heap.forEach(MemoryPoolMXBean::resetPeakUsage);
        long used = heap.stream().mapToLong(pool -> pool.getUsage().getUsed()).sum();

        CheckResult flooded = runHere("{ type: external, script: '" + flood + "', timeout: 20s }", 1);
        CheckResult spammed = runHere("{ type: external, script: '" + endless + "', timeout: 500ms }", 1);

        assertThat(flooded.reason()).startsWith("script exit 3: xxxx").endsWith("...");
        assertThat(spammed.reason()).isEqualTo("script " + endless + " killed after 500 ms");
        assertThat(heap.stream().mapToLong(pool -> pool.getPeakUsage().getUsed()).sum() - used)
                .as("heap grown at most, in bytes, while the checks read 150 MB and more").isLessThan(32L << 20);
        assertThat(tempFiles()).as("files left in the temporary directory").isEqualTo(before);
    }

    private static List<Path> tempFiles() throws Exception {
        try (var files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return files.filter(file -> file.getFileName().toString().startsWith("baton-check-")).sorted().toList();
        }
    }

    private Path script(String name, String text) throws Exception {
        Path script = dir.resolve(name);
        Files.writeString(script, text);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    /** Runs one check of the given type against 127.0.0.1:port, the way the monitor does. */
    static CheckResult run(String check, int port) throws Exception {
        return run(check, port, new CheckScripts(CheckScripts.DEFAULT_DIRECTORY));
    }

    /** An external check, whose scripts this test keeps in its own directory. */
    private CheckResult runHere(String check, int port) throws Exception {
        return run(check, port, new CheckScripts(dir));
    }

    static CheckResult run(String check, int port, CheckScripts scripts) throws Exception {
        HealthCheck settings = ConfigParser.parse("""
                cluster: { name: t, nodes: [{ id: n, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.100/32, interface: lo }]
                services:
                  - { name: s, vip: v, ports: [80], mode: l7-snat, check: %s, servers: [{ name: r, address: 127.0.0.1:%d }] }
                """.formatted(check, port), ConfigParser.Format.YAML).services().get(0).check();
        CheckTarget target = new CheckTarget("s", "r", "127.0.0.100", 80, "127.0.0.1", port, settings);
        return Checks.run(Checker.of(settings.type(), scripts), target);
    }
}
