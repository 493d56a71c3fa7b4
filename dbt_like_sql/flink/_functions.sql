-- The platform's SQL functions (infra/flink/udf/, docs/flink.md): they check a payload with the bronze path's
-- rules and parse it once. On the cluster's classpath (`lakehouse up` puts the jar in lib/), or loaded from
-- FLINK_UDF_JAR for this job.
{%- for name, java_class in [('lakehouse_order', 'OrderCheck'), ('lakehouse_order_validity', 'OrderValidity'),
                              ('lakehouse_payload_reason', 'PayloadCheck'), ('lakehouse_bronze_line', 'BronzeLine'),
                              ('lakehouse_base64', 'Base64Text')] %}
CREATE TEMPORARY SYSTEM FUNCTION {{ name }}
  AS {{ ('io.github.streaminglakehouse.flink.' ~ java_class) | literal }} LANGUAGE JAVA
  {%- if udf_jar %} USING JAR {{ udf_jar | literal }}{% endif %};
{%- endfor %}
