package io.github.streaminglakehouse.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.RowData;

/**
 * {@code lakehouse_order_validity(payload BYTES, schema STRING, max_message_bytes INT)}: {@code lakehouse_order}
 * without the event's fields, for a pipeline that writes the payload itself (kafka_to_minio): the checks read only
 * what they need (a string without constraints is skipped, not copied). Returns {@code reason} (null for a valid
 * event), {@code event_time} and its UTC {@code dt}/{@code hour}.
 */
public final class OrderValidity extends OrderFunction {

    private static final String[] FIELDS = {};
    private static final ThreadLocal<Last> MEMORY = ThreadLocal.withInitial(Last::new);

    public @DataTypeHint(value = "ROW<reason STRING, event_time TIMESTAMP_LTZ(3), dt STRING, `hour` STRING>",
            bridgedTo = RowData.class) RowData eval(byte[] payload, String schemaSpec, Integer maxMessageBytes) {
        return evaluate(payload, schemaSpec, maxMessageBytes);
    }

    @Override
    String[] fields() {
        return FIELDS;
    }

    @Override
    ThreadLocal<Last> memory() {
        return MEMORY;
    }
}
