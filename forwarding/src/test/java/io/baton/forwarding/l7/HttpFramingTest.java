package io.baton.forwarding.l7;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The hand-written checks that replace per-message regular expressions, against what the regexes said. */
class HttpFramingTest {

    @Test
    void aContentLengthIsOneToEighteenAsciiDigits() {
        for (String text : new String[] {"0", "7", "0042", "123456789012345678", "", "-1", "+1", "1 2", "1e3", "0x10",
                "1234567890123456789", "١٢", "12a", " 1"}) {
            assertThat(HttpFraming.decimal(text, 18)).as(text).isEqualTo(text.matches("[0-9]{1,18}"));
        }
    }

    @Test
    void aVersionIsHttpSlashDigitDotDigitCaseSensitive() {
        for (String version : new String[] {"HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/9.9", "http/1.1", "HTTP/1.10",
                "HTTP/11", "HTTP/1.", "HTTP/a.1", "HTTP/1,1", "HTTPS/1.1", "", "HTTP/1.1 ", "HTTP/١.1"}) {
            assertThat(StrictHttpServerCodec.versionProblem(version) == null).as(version)
                    .isEqualTo(version.matches("HTTP/[0-9]\\.[0-9]"));
        }
    }
}
