package io.github.streaminglakehouse.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.RowData;

/**
 * {@code lakehouse_order(payload BYTES, schema STRING, max_message_bytes INT)}: an order event checked with the
 * bronze path's rules and parsed once ({@link OrderFunction}). Returns a row whose {@code reason} is null for a
 * valid event (then the other fields hold its values, {@code event_time} the instant of the schema's event-time
 * field and {@code dt}/{@code hour} its UTC date and hour) and says why otherwise.
 */
public final class OrderCheck extends OrderFunction {

    private static final String[] FIELDS = {"event_id", "order_id", "customer_id", "status", "amount", "currency",
                                            "created_at"};
    private static final ThreadLocal<Last> MEMORY = ThreadLocal.withInitial(Last::new);

    public @DataTypeHint(value = "ROW<reason STRING, event_id STRING, order_id STRING, customer_id STRING, "
            + "status STRING, amount DOUBLE, currency STRING, created_at STRING, event_time TIMESTAMP_LTZ(3), "
            + "dt STRING, `hour` STRING>", bridgedTo = RowData.class) RowData eval(
            byte[] payload, String schemaSpec, Integer maxMessageBytes) {
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
