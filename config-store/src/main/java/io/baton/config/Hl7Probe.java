package io.baton.config;

import java.util.List;

/**
 * What an {@code hl7} check sends and what it accepts: the MSH fields of its test message (an HL7 v2
 * message of one MSH segment, framed by MLLP) and the acknowledgement codes (MSA-1) that count as up.
 *
 * @param sendingApplication   MSH-3
 * @param sendingFacility      MSH-4; null for empty
 * @param receivingApplication MSH-5; null for empty
 * @param receivingFacility    MSH-6; null for empty
 * @param messageType          MSH-9, components separated by {@code ^}
 * @param processingId         MSH-11: P (production), T (training) or D (debugging)
 * @param version              MSH-12
 * @param expectAck            MSA-1 codes that count as up
 */
public record Hl7Probe(
        String sendingApplication,
        String sendingFacility,
        String receivingApplication,
        String receivingFacility,
        String messageType,
        String processingId,
        String version,
        List<String> expectAck) {

    public static final String DEFAULT_SENDING_APPLICATION = "BATON";
    /** An application management message: what interface engines are sent to show that a link is alive. */
    public static final String DEFAULT_MESSAGE_TYPE = "NMD^N02";
    public static final String DEFAULT_PROCESSING_ID = "P";
    public static final String DEFAULT_VERSION = "2.5";
    public static final List<String> DEFAULT_EXPECT_ACK = List.of("AA");
    /** Every acknowledgement code of HL7 v2 (original and enhanced mode), accept and error alike. */
    public static final List<String> ACK_CODES = List.of("AA", "AE", "AR", "CA", "CE", "CR");

    public Hl7Probe {
        expectAck = List.copyOf(expectAck);
    }
}
