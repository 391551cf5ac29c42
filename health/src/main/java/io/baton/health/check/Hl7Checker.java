package io.baton.health.check;

import io.baton.config.Hl7Probe;
import io.baton.health.CheckResult;
import io.baton.health.CheckTarget;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * {@code hl7}: sends an HL7 v2 message of one MSH segment (the configured applications, facilities,
 * message type, processing ID and version) framed by MLLP ({@code 0x0B} message {@code 0x1C 0x0D}),
 * and expects an acknowledgement whose MSA-1 is one of the configured codes and whose MSA-2 names the
 * message sent. A negative acknowledgement, an answer that is not an MLLP frame or not an HL7
 * acknowledgement, and silence each fail with their own reason.
 */
final class Hl7Checker implements Checker {

    static final int START_BLOCK = 0x0B;
    static final int END_BLOCK = 0x1C;
    static final int CARRIAGE_RETURN = 0x0D;
    /** The longest acknowledgement frame read: a real one is a few hundred bytes. */
    static final int MAX_FRAME = 64 * 1024;
    private static final DateTimeFormatter HL7_TIME = DateTimeFormatter.ofPattern("yyyyMMddHHmmssZ");
    /** Makes each message control ID (MSH-10) unique, across restarts too. */
    private static final AtomicLong CONTROL_IDS = new AtomicLong(System.currentTimeMillis());

    @Override
    public CheckResult check(CheckTarget target, Deadline deadline) throws Exception {
        Hl7Probe probe = target.check().hl7();
        String controlId = "BATON" + CONTROL_IDS.incrementAndGet();
        deadline.phaseOnceConnected("sending the HL7 message");
        try (Socket socket = deadline.connect(target.host(), target.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(frame(message(probe, controlId, ZonedDateTime.now(ZoneOffset.UTC))));
            out.flush();
            deadline.phase("waiting for the HL7 acknowledgement");
            String answer = readFrame(socket.getInputStream(), socket, deadline);
            return judge(answer, probe.expectAck(), controlId);
        }
    }

    /** The test message: one MSH segment, ended by a carriage return. */
    static String message(Hl7Probe probe, String controlId, ZonedDateTime now) {
        return String.join("|", "MSH", "^~\\&", probe.sendingApplication(), empty(probe.sendingFacility()),
                empty(probe.receivingApplication()), empty(probe.receivingFacility()), HL7_TIME.format(now), "",
                probe.messageType(), controlId, probe.processingId(), probe.version()) + "\r";
    }

    private static String empty(String field) {
        return field == null ? "" : field;
    }

    static byte[] frame(String message) {
        byte[] text = message.getBytes(StandardCharsets.ISO_8859_1);
        byte[] framed = new byte[text.length + 3];
        framed[0] = START_BLOCK;
        System.arraycopy(text, 0, framed, 1, text.length);
        framed[framed.length - 2] = END_BLOCK;
        framed[framed.length - 1] = CARRIAGE_RETURN;
        return framed;
    }

    /** Reads one MLLP frame and returns what it holds; a stream that is not one fails with what it was. */
    static String readFrame(InputStream in, Socket socket, Deadline deadline) throws IOException {
        byte[] chunk = new byte[4096];
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        boolean started = false;
        boolean ended = false;
        while (true) {
            deadline.beforeRead(socket);
            int read = in.read(chunk);
            if (read < 0) {
                throw new EOFException(started
                        ? "the server closed the connection in the middle of the MLLP frame (" + frame.size()
                        + " bytes, no 0x1C 0x0D end)"
                        : "the server closed the connection without acknowledging the HL7 message");
            }
            for (int i = 0; i < read; i++) {
                int b = chunk[i] & 0xFF;
                if (!started) {
                    if (b != START_BLOCK) {
                        throw new NotHl7Exception("not an MLLP frame (it answered \""
                                + printable(chunk, i, Math.min(read - i, 40)) + "\")");
                    }
                    started = true;
                } else if (ended) {
                    if (b != CARRIAGE_RETURN) {
                        throw new NotHl7Exception("malformed MLLP frame: 0x1C not followed by 0x0D");
                    }
                    return frame.toString(StandardCharsets.ISO_8859_1);
                } else if (b == END_BLOCK) {
                    ended = true;
                } else if (b == START_BLOCK) {
                    throw new NotHl7Exception("malformed MLLP frame: a second 0x0B start inside the frame");
                } else {
                    frame.write(b);
                    if (frame.size() > MAX_FRAME) {
                        throw new NotHl7Exception("the server sent an MLLP frame longer than " + MAX_FRAME
                                + " bytes (an HL7 acknowledgement is a few hundred)");
                    }
                }
            }
        }
    }

    /** Up when the answer is an HL7 acknowledgement of {@code controlId} with one of the expected codes. */
    static CheckResult judge(String answer, List<String> expected, String controlId) {
        String[] segments = answer.split("[\r\n]+");
        String header = segments.length == 0 ? "" : segments[0];
        if (!header.startsWith("MSH") || header.length() < 8) {
            return CheckResult.down("the answer is not an HL7 message (it starts \"" + printable(header) + "\")");
        }
        String separator = Pattern.quote(header.substring(3, 4));
        String[] msa = null;
        String err = null;
        for (String segment : segments) {
            String[] fields = segment.split(separator, -1);
            if (fields[0].equals("MSA") && msa == null) {
                msa = fields;
            } else if (fields[0].equals("ERR") && err == null) {
                err = segment;
            }
        }
        if (msa == null || msa.length < 2 || msa[1].isEmpty()) {
            return CheckResult.down("the HL7 answer has no acknowledgement (no MSA segment with a code)");
        }
        String code = msa[1];
        String acknowledged = msa.length > 2 ? msa[2] : "";
        String text = msa.length > 3 && !msa[3].isBlank() ? msa[3] : err;
        String detail = text == null ? "" : ": " + printable(text);
        if (!acknowledged.equals(controlId)) {
            return CheckResult.down("the HL7 acknowledgement " + printable(code) + " is for message \""
                    + printable(acknowledged) + "\", not for the check's " + controlId);
        }
        if (!expected.contains(code)) {
            return CheckResult.down("HL7 acknowledgement " + printable(code) + " (expected " + String.join(" or ", expected)
                    + ")" + detail);
        }
        return CheckResult.up("HL7 acknowledgement " + code);
    }

    /** Thrown when the peer's answer is not an MLLP-framed HL7 message. */
    static final class NotHl7Exception extends IOException {
        private static final long serialVersionUID = 1L;

        NotHl7Exception(String message) {
            super(message);
        }
    }

    private static String printable(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.ISO_8859_1);
        return printable(bytes, 0, bytes.length);
    }

    private static String printable(byte[] bytes, int offset, int length) {
        return HttpChecker.abbreviate(Printable.ascii(bytes, offset, length));
    }
}
