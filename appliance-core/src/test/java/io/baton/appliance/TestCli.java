package io.baton.appliance;

import io.baton.appliance.cli.BatonCli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** The {@code baton} command run in this JVM, as an operator types it. */
final class TestCli {

    private TestCli() {
    }

    /** Runs {@code baton ARGS}; returns {@code EXIT:} followed by what it printed (stdout and stderr). */
    static synchronized String run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        PrintStream capture = new PrintStream(printed, true, StandardCharsets.UTF_8);
        System.setOut(capture);
        System.setErr(capture);
        try {
            int code = BatonCli.run(args);
            return code + ":" + printed.toString(StandardCharsets.UTF_8);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }
}
