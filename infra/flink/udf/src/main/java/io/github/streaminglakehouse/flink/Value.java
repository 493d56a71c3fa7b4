package io.github.streaminglakehouse.flink;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;

/** One top-level field of a payload: its JSON kind, a number's value, and a string's text when it was read. */
final class Value {

    final JsonToken token;
    final String text;
    final double number;

    Value(JsonToken token, String text, double number) {
        this.token = token;
        this.text = text;
        this.number = number;
    }

    boolean isNull() {
        return token == JsonToken.VALUE_NULL;
    }

    boolean isString() {
        return token == JsonToken.VALUE_STRING;
    }

    boolean isNumber() {
        return token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT;
    }

    /** Python's repr of the value, cut at 60 characters, as the bronze reasons print it ('x', 42, None). */
    String repr() {
        String repr;
        switch (token) {
            case VALUE_STRING: repr = text == null ? "a string"
                    : "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"; break;
            case VALUE_TRUE: repr = "True"; break;
            case VALUE_FALSE: repr = "False"; break;
            case VALUE_NULL: repr = "None"; break;
            case START_OBJECT: repr = "{...}"; break;
            case START_ARRAY: repr = "[...]"; break;
            case VALUE_NUMBER_INT: repr = number == Math.rint(number) && Math.abs(number) < 1e18
                    ? Long.toString((long) number) : Double.toString(number); break;
            default: repr = Double.toString(number);
        }
        return repr.length() > 60 ? repr.substring(0, 60) : repr;
    }
}
