package io.baton.appliance.cli;

import sun.misc.Signal;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Turns SIGTERM and SIGINT into an orderly stop on the main thread: the node closes everything it
 * holds and the process exits 0, which is what systemd and Docker expect of a clean stop.
 */
final class Signals {

    private Signals() {
    }

    /** Blocks until SIGTERM or SIGINT arrives; returns its name ({@code TERM} or {@code INT}). */
    @SuppressWarnings("removal")
    static String awaitTermination() throws InterruptedException {
        BlockingQueue<String> received = new ArrayBlockingQueue<>(2);
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), signal -> received.offer(signal.getName()));
        }
        return received.take();
    }
}
