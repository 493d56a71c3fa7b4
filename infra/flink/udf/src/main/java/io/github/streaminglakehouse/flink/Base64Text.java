package io.github.streaminglakehouse.flink;

import java.util.Base64;

import org.apache.flink.table.functions.ScalarFunction;

/** {@code lakehouse_base64(payload BYTES)}: the exact bytes of a quarantined record, as bronze keeps them. */
public final class Base64Text extends ScalarFunction {

    public String eval(byte[] payload) {
        return payload == null ? null : Base64.getEncoder().encodeToString(payload);
    }
}
