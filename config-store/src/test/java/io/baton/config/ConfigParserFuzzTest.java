package io.baton.config;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.nio.charset.StandardCharsets;

/**
 * Fuzzes the config parser with arbitrary YAML and JSON: whatever the bytes, it answers with a
 * config or with {@link InvalidConfigException} / {@link MalformedConfigException} (errors that
 * name fields), never another exception, a hang or a crash. Without JAZZER_FUZZ it runs the inputs
 * in its corpus (src/test/resources/.../ConfigParserFuzzTestInputs); ./run-tests fuzzes it for a
 * bounded time.
 */
class ConfigParserFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void anyDocumentIsAConfigOrNamedErrors(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        for (ConfigParser.Format format : ConfigParser.Format.values()) {
            try {
                ConfigParser.parse(text, format);
            } catch (InvalidConfigException e) {
                if (e.errors().isEmpty()) {
                    throw new AssertionError("an invalid config without errors", e);
                }
            } catch (MalformedConfigException e) {
                // a document that is not YAML / JSON: said so
            }
        }
    }
}
