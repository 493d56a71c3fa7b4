package io.github.streaminglakehouse.flink;

import java.util.Arrays;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code lakehouse_order(payload BYTES, schema STRING, max_message_bytes INT)}: an order event checked with the
 * bronze path's rules ({@link Checker}; {@code schema} is assets/bronze/schemas.Orders as JSON, {@link Schema})
 * and parsed once. Returns a row whose {@code reason} is null for a valid event (then the other fields hold its
 * values and {@code event_time} the instant of the schema's event-time field) and says why otherwise.
 *
 * <p>The planner calls the function once per field it reads from the row, and once more for the watermark (the
 * source's computed {@code event_time}); those calls for one record come from one task thread in a row, so each
 * thread remembers its last payload and answer, and a payload is parsed once.
 */
public final class OrderCheck extends ScalarFunction {

    static final String ROW = "ROW<reason STRING, event_id STRING, order_id STRING, customer_id STRING, "
            + "status STRING, amount DOUBLE, currency STRING, created_at STRING, event_time TIMESTAMP_LTZ(3)>";
    // The row's fields, read from the payload (the schema decides which must be there and what they must be).
    private static final String[] OUTPUT = {"event_id", "order_id", "customer_id", "status", "amount", "currency",
                                            "created_at"};

    private static final ThreadLocal<Last> LAST = ThreadLocal.withInitial(Last::new);

    /** A thread's last call: its arguments, its checker and its answer. */
    private static final class Last {
        byte[] payload;
        String spec;
        int maxBytes;
        Checker checker;
        int[] slots; // OUTPUT[i] is checker.wanted[slots[i]]
        RowData row;
    }

    public @DataTypeHint(value = ROW, bridgedTo = RowData.class) RowData eval(
            byte[] payload, String schemaSpec, Integer maxMessageBytes) {
        Last last = LAST.get();
        int maxBytes = maxMessageBytes == null ? Integer.MAX_VALUE : maxMessageBytes;
        boolean sameChecker = last.checker != null && maxBytes == last.maxBytes
                && (schemaSpec == last.spec || schemaSpec.equals(last.spec));
        if (sameChecker && last.row != null
                && (payload == last.payload || (payload != null && Arrays.equals(payload, last.payload)))) {
            return last.row;
        }
        if (!sameChecker) {
            last.checker = new Checker(Schema.parse(schemaSpec), OUTPUT, maxBytes);
            last.slots = Arrays.stream(OUTPUT).mapToInt(f -> Arrays.asList(last.checker.wanted).indexOf(f)).toArray();
            last.spec = schemaSpec;
            last.maxBytes = maxBytes;
        }
        last.payload = payload;
        last.row = check(payload, last.checker, last.slots);
        return last.row;
    }

    private static RowData check(byte[] payload, Checker checker, int[] slots) {
        Value[] found = new Value[checker.wanted.length];
        long[] eventMicros = {Long.MIN_VALUE};
        GenericRowData row = new GenericRowData(9);
        String reason = checker.check(payload, found, eventMicros);
        if (reason != null) {
            row.setField(0, StringData.fromString(reason));
            return row;
        }
        for (int i = 0; i < OUTPUT.length; i++) {
            Value value = found[slots[i]];
            if (value == null || !(value.isString() || value.isNumber())) {
                continue;
            }
            row.setField(1 + i, OUTPUT[i].equals("amount") ? (Object) value.number : StringData.fromString(value.text));
        }
        if (eventMicros[0] != Long.MIN_VALUE) {
            row.setField(8, TimestampData.fromEpochMillis(Math.floorDiv(eventMicros[0], 1000L)));
        }
        return row;
    }
}
