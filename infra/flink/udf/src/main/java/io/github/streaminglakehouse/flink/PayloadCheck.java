package io.github.streaminglakehouse.flink;

import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code lakehouse_payload_reason(payload BYTES, format STRING, max_message_bytes INT)}: why a record of a topic
 * without a schema cannot be used (null when it can), by the bronze path's rules ({@link Checker}): {@code json}
 * must be one JSON object without the reserved fields or a NUL character, {@code text} UTF-8 without NUL.
 */
public final class PayloadCheck extends ScalarFunction {

    private static final String[] NOTHING = {};

    private transient Checker checker;
    private transient int maxBytes;

    public String eval(byte[] payload, String format, Integer maxMessageBytes) {
        int max = maxMessageBytes == null ? Integer.MAX_VALUE : maxMessageBytes;
        if (checker == null || max != maxBytes) {
            checker = new Checker(null, NOTHING, max);
            maxBytes = max;
        }
        return "text".equals(format) ? checker.checkText(payload) : checker.check(payload, new Value[0], new long[1]);
    }
}
