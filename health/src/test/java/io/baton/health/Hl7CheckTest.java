package io.baton.health;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** The {@code hl7} check against an MLLP listener that answers as an interface engine would, or would not. */
class Hl7CheckTest {

    private final Peers peers = new Peers();
    private final List<String> received = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() throws Exception {
        peers.close();
    }

    @Test
    void anAcceptedMessageIsUpAndTheMessageCarriesTheConfiguredHeader() throws Exception {
        int port = peers.mllp(message -> ack(message, "AA", ""));

        CheckResult result = CheckersTest.run("{ type: hl7, sending-application: LB, sending-facility: RAD,"
                + " receiving-application: RIS, receiving-facility: HOSP, message-type: 'QRY^A19', processing-id: T,"
                + " hl7-version: '2.3' }", port);

        assertThat(result.up()).as(result.reason()).isTrue();
        assertThat(result.reason()).isEqualTo("HL7 acknowledgement AA");
        String[] msh = received.get(0).split("\\|", -1);
        assertThat(msh[0]).isEqualTo("MSH");
        assertThat(msh[1]).isEqualTo("^~\\&");
        assertThat(List.of(msh[2], msh[3], msh[4], msh[5], msh[8], msh[10], msh[11]))
                .containsExactly("LB", "RAD", "RIS", "HOSP", "QRY^A19", "T", "2.3\r");
        assertThat(msh[6]).matches("\\d{14}\\+0000");
        assertThat(msh[9]).startsWith("BATON");
    }

    @Test
    void nothingButTheTypeIsAValidCheckWithDefaults() throws Exception {
        int port = peers.mllp(message -> ack(message, "AA", ""));

        assertThat(CheckersTest.run("{ type: hl7 }", port).up()).isTrue();
        String[] msh = received.get(0).split("\\|", -1);
        assertThat(List.of(msh[2], msh[3], msh[4], msh[8], msh[10], msh[11]))
                .containsExactly("BATON", "", "", "NMD^N02", "P", "2.5\r");
    }

    @Test
    void aNegativeAcknowledgementFailsWithItsCodeAndText() throws Exception {
        int error = peers.mllp(message -> ack(message, "AE", "unknown message type"));
        int reject = peers.mllp(message -> ack(message, "AR", ""));

        CheckResult nak = CheckersTest.run("{ type: hl7 }", error);
        assertThat(nak.up()).isFalse();
        assertThat(nak.reason()).isEqualTo("HL7 acknowledgement AE (expected AA): unknown message type");
        assertThat(CheckersTest.run("{ type: hl7 }", reject).reason()).isEqualTo("HL7 acknowledgement AR (expected AA)");
        assertThat(CheckersTest.run("{ type: hl7, expect-ack: [AA, AE] }", error).up()).isTrue();
    }

    @Test
    void anAcknowledgementOfAnotherMessageIsNotOurs() throws Exception {
        int port = peers.mllp(message -> frame("MSH|^~\\&|RIS||BATON||20261204120000||ACK|1|P|2.5\rMSA|AA|OLD42\r"));

        CheckResult result = CheckersTest.run("{ type: hl7 }", port);

        assertThat(result.up()).isFalse();
        assertThat(result.reason()).startsWith("the HL7 acknowledgement AA is for message \"OLD42\", not for the check's BATON");
    }

    @Test
    void answersThatAreNotHl7AcknowledgementsEachSayWhatTheyWere() throws Exception {
        int http = peers.mllp(message -> "HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        int badEnd = peers.mllp(message -> "\u000BMSH|^~\\&|RIS\u001CX".getBytes(StandardCharsets.ISO_8859_1));
        int notHl7 = peers.mllp(message -> frame("hello\r"));
        int noMsa = peers.mllp(message -> frame("MSH|^~\\&|RIS||BATON||20261204120000||ACK|1|P|2.5\r"));
        int closes = peers.mllp(message -> null, true);
        int halfFrame = peers.mllp(message -> "\u000BMSH|^~\\&|RIS".getBytes(StandardCharsets.ISO_8859_1), true);

        assertThat(CheckersTest.run("{ type: hl7 }", http).reason())
                .isEqualTo("not an MLLP frame (it answered \"HTTP/1.1 400 Bad Request....\")");
        assertThat(CheckersTest.run("{ type: hl7 }", badEnd).reason())
                .isEqualTo("malformed MLLP frame: 0x1C not followed by 0x0D");
        assertThat(CheckersTest.run("{ type: hl7 }", notHl7).reason())
                .isEqualTo("the answer is not an HL7 message (it starts \"hello\")");
        assertThat(CheckersTest.run("{ type: hl7 }", noMsa).reason())
                .isEqualTo("the HL7 answer has no acknowledgement (no MSA segment with a code)");
        assertThat(CheckersTest.run("{ type: hl7 }", closes).reason())
                .isEqualTo("the server closed the connection without acknowledging the HL7 message");
        assertThat(CheckersTest.run("{ type: hl7 }", halfFrame).reason())
                .isEqualTo("the server closed the connection in the middle of the MLLP frame (12 bytes, no 0x1C 0x0D end)");
    }

    @Test
    void silenceAndAFrameWithoutEndFailAtTheTimeout() throws Exception {
        int silent = peers.mllp(message -> null);
        int unended = peers.mllp(message -> "\u000BMSH|^~\\&|RIS".getBytes(StandardCharsets.ISO_8859_1));

        assertThat(CheckersTest.run("{ type: hl7, timeout: 300ms }", silent).reason())
                .isEqualTo("no answer within 300 ms (waiting for the HL7 acknowledgement)");
        assertThat(CheckersTest.run("{ type: hl7, timeout: 300ms }", unended).reason())
                .isEqualTo("no complete answer within 300 ms (waiting for the HL7 acknowledgement; 13 bytes received)");
        assertThat(CheckersTest.run("{ type: hl7 }", Peers.freePort()).reason()).isEqualTo("connection refused");
    }

    /** An acknowledgement of {@code message} (its MSH-10 in MSA-2), as an interface engine sends one. */
    private byte[] ack(String message, String code, String text) {
        received.add(message);
        String controlId = message.split("\\|", -1)[9];
        return frame("MSH|^~\\&|RIS|HOSP|BATON||20261204120000||ACK^N02^ACK|ACK" + controlId + "|P|2.5\r"
                + "MSA|" + code + "|" + controlId + (text.isEmpty() ? "" : "|" + text) + "\r");
    }

    private static byte[] frame(String message) {
        return ("\u000B" + message + "\u001C\r").getBytes(StandardCharsets.ISO_8859_1);
    }
}
