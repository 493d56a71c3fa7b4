package io.github.streaminglakehouse.flink;

import java.time.Instant;
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
 * values, {@code event_time} the instant of the schema's event-time field and {@code dt}/{@code hour} its UTC
 * date and hour, the sink's partition) and says why otherwise.
 *
 * <p>The planner calls the function once per field it reads from the row, and once more for the watermark (the
 * source's computed {@code event_time}); those calls for one record come from one task thread in a row, so each
 * thread remembers its last payload and answer, and a payload is parsed once.
 */
public final class OrderCheck extends ScalarFunction {

    static final String ROW = "ROW<reason STRING, event_id STRING, order_id STRING, customer_id STRING, "
            + "status STRING, amount DOUBLE, currency STRING, created_at STRING, event_time TIMESTAMP_LTZ(3), "
            + "dt STRING, `hour` STRING>";
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
        long hour = Long.MIN_VALUE; // the last event hour (epoch hours) and its partition values
        StringData dt;
        StringData hh;
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
        last.row = check(payload, last);
        return last.row;
    }

    private static RowData check(byte[] payload, Last last) {
        Checker checker = last.checker;
        Value[] found = new Value[checker.wanted.length];
        long[] eventMicros = {Long.MIN_VALUE};
        GenericRowData row = new GenericRowData(11);
        String reason = checker.check(payload, found, eventMicros);
        if (reason != null) {
            row.setField(0, StringData.fromString(reason));
            return row;
        }
        for (int i = 0; i < OUTPUT.length; i++) {
            Value value = found[last.slots[i]];
            if (value == null || !(value.isString() || value.isNumber())) {
                continue;
            }
            row.setField(1 + i, OUTPUT[i].equals("amount") ? (Object) value.number : StringData.fromString(value.text));
        }
        if (eventMicros[0] != Long.MIN_VALUE) {
            long millis = Math.floorDiv(eventMicros[0], 1000L);
            row.setField(8, TimestampData.fromEpochMillis(millis));
            long hour = Math.floorDiv(millis, 3_600_000L);
            if (hour != last.hour) {
                String iso = Instant.ofEpochSecond(hour * 3600).toString(); // 2026-01-01T07:00:00Z
                last.dt = StringData.fromString(iso.substring(0, iso.indexOf('T')));
                last.hh = StringData.fromString(iso.substring(iso.indexOf('T') + 1, iso.indexOf('T') + 3));
                last.hour = hour;
            }
            row.setField(9, last.dt);
            row.setField(10, last.hh);
        }
        return row;
    }
}
