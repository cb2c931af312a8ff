// pgjdbc (Debian's libpostgresql-jdbc-java) against Eddy: prepared statements past the fifth
// execution (when pgjdbc switches to named server-side statements), DatabaseMetaData
// (getTables, getColumns, getPrimaryKeys), ResultSetMetaData from RowDescription (table OID,
// column number, type modifiers), and the values read back with their Java types.
// Prints `version <client> <version>` and `tested <what>` lines for docs/COMPATIBILITY.md.

import java.math.BigDecimal;
import java.sql.*;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.*;

public class EddyJdbcTest {
    static void same(Object got, Object want, String what) {
        if (!Objects.equals(got, want)) {
            throw new AssertionError(what + ":\n  got  " + got + "\n  want " + want);
        }
    }

    static void tested(String what) {
        System.out.println("tested " + what);
    }

    static List<List<Object>> rows(ResultSet rs) throws SQLException {
        List<List<Object>> out = new ArrayList<>();
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            List<Object> row = new ArrayList<>();
            for (int i = 1; i <= n; i++) {
                row.add(rs.getObject(i));
            }
            out.add(row);
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + env("EDDY_HOST", "127.0.0.1") + ":" + env("EDDY_PORT", "5488")
                + "/" + env("EDDY_DB", "eddy");
        Properties props = new Properties();
        props.setProperty("user", env("EDDY_USER", "eddy"));
        try (Connection conn = DriverManager.getConnection(url, props)) {
            DatabaseMetaData md = conn.getMetaData();
            System.out.println("version pgjdbc " + md.getDriverVersion());
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE readings (id int PRIMARY KEY, sensor varchar(10) NOT NULL, "
                        + "value numeric(10,2), at timestamptz, meta jsonb, tags int[])");
                st.execute("CREATE VIEW recent AS SELECT id, sensor, value, at FROM readings WHERE id >= 2");
                st.execute("CREATE MATERIALIZED VIEW per_sensor AS "
                        + "SELECT sensor, count(*) AS n, sum(value) AS total FROM readings GROUP BY sensor");
            }

            // Eight executions of one statement: pgjdbc moves to a named statement at the fifth.
            try (PreparedStatement ins = conn.prepareStatement(
                    "INSERT INTO readings (id, sensor, value, at, meta, tags) VALUES (?, ?, ?, ?, ?, ?)")) {
                for (int i = 1; i <= 8; i++) {
                    ins.setInt(1, i);
                    ins.setString(2, i % 2 == 0 ? "even" : "odd");
                    if (i == 3) {
                        ins.setNull(3, Types.NUMERIC);
                        ins.setNull(4, Types.TIMESTAMP_WITH_TIMEZONE);
                        ins.setNull(5, Types.OTHER);
                        ins.setNull(6, Types.ARRAY);
                    } else {
                        ins.setBigDecimal(3, new BigDecimal(i + ".25"));
                        ins.setObject(4, OffsetDateTime.of(2026, 1, i, 12, 0, 0, 0, ZoneOffset.UTC));
                        ins.setObject(5, "{\"i\": " + i + "}", Types.OTHER);
                        ins.setArray(6, conn.createArrayOf("int4", new Integer[] {i, null}));
                    }
                    same(ins.executeUpdate(), 1, "insert " + i);
                }
            }
            tested("PreparedStatement INSERT executed 8 times (named server statements from the 5th)");

            try (PreparedStatement q = conn.prepareStatement(
                    "SELECT id, sensor, value, at, meta, tags FROM readings WHERE id = ?")) {
                for (int round = 0; round < 7; round++) {
                    q.setInt(1, 2);
                    try (ResultSet rs = q.executeQuery()) {
                        if (!rs.next()) throw new AssertionError("no row 2");
                        same(rs.getInt(1), 2, "int");
                        same(rs.getString(2), "even", "varchar");
                        same(rs.getBigDecimal(3), new BigDecimal("2.25"), "numeric");
                        same(rs.getObject(4, OffsetDateTime.class),
                                OffsetDateTime.of(2026, 1, 2, 12, 0, 0, 0, ZoneOffset.UTC), "timestamptz");
                        same(rs.getString(5), "{\"i\": 2}", "jsonb");
                        same(Arrays.asList((Integer[]) rs.getArray(6).getArray()), Arrays.asList(2, null), "int[]");
                        org.postgresql.PGResultSetMetaData m =
                                rs.getMetaData().unwrap(org.postgresql.PGResultSetMetaData.class);
                        // These come from the table OID and column number in RowDescription.
                        same(m.getBaseTableName(2), "readings", "base table name");
                        same(m.getBaseColumnName(2), "sensor", "base column name");
                        ResultSetMetaData std = rs.getMetaData();
                        same(std.isNullable(2), ResultSetMetaData.columnNoNulls, "NOT NULL column");
                        same(std.isNullable(3), ResultSetMetaData.columnNullable, "nullable column");
                        same(std.isAutoIncrement(1), false, "not auto-increment");
                        same(std.getColumnTypeName(3), "numeric", "numeric type name");
                        same(std.getPrecision(3), 10, "numeric precision from the type modifier");
                        same(std.getScale(3), 2, "numeric scale from the type modifier");
                        same(std.getColumnDisplaySize(2), 10, "varchar length from the type modifier");
                        same(std.getColumnTypeName(4), "timestamptz", "timestamptz type name");
                        same(std.getColumnTypeName(6), "_int4", "int[] type name");
                        if (rs.next()) throw new AssertionError("two rows for id 2");
                    }
                }
                q.setInt(1, 3);
                try (ResultSet rs = q.executeQuery()) {
                    rs.next();
                    for (int i = 3; i <= 6; i++) {
                        same(rs.getObject(i), null, "NULL in column " + i);
                    }
                }
            }
            tested("values read back as Java types (int, String, BigDecimal, OffsetDateTime, json, Array, NULL)");
            tested("ResultSetMetaData: precision/scale/length from type modifiers; base table and column, nullability from table OID and attnum");

            try (PreparedStatement q = conn.prepareStatement(
                    "SELECT sensor, n, total FROM per_sensor WHERE n >= ? ORDER BY sensor")) {
                q.setLong(1, 1);
                try (ResultSet rs = q.executeQuery()) {
                    same(rows(rs).toString(), "[[even, 4, 21.00], [odd, 4, 13.75]]", "materialized view");
                }
            }
            try (PreparedStatement q = conn.prepareStatement("SELECT count(*) FROM recent WHERE sensor = ?")) {
                q.setString(1, "odd");
                try (ResultSet rs = q.executeQuery()) {
                    rs.next();
                    same(rs.getLong(1), 3L, "view");
                }
            }
            tested("materialized view and view read with parameters");

            List<String> tables = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, "public", "%",
                    new String[] {"TABLE", "VIEW", "MATERIALIZED VIEW"})) {
                while (rs.next()) {
                    tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
                }
            }
            same(tables, List.of("per_sensor:MATERIALIZED VIEW", "readings:TABLE", "recent:VIEW"), "getTables");
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "readings", "%")) {
                while (rs.next()) {
                    cols.add(rs.getString("COLUMN_NAME") + " " + rs.getString("TYPE_NAME") + " "
                            + rs.getInt("DATA_TYPE") + " " + rs.getInt("COLUMN_SIZE") + " "
                            + rs.getInt("DECIMAL_DIGITS") + " " + rs.getString("IS_NULLABLE"));
                }
            }
            same(cols, List.of(
                    "id int4 4 10 0 NO",
                    "sensor varchar 12 10 0 NO",
                    "value numeric 2 10 2 YES",
                    "at timestamptz 93 35 6 YES",
                    "meta jsonb 1111 2147483647 0 YES",
                    "tags _int4 2003 10 0 YES"), "getColumns");
            List<String> pk = new ArrayList<>();
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "readings")) {
                while (rs.next()) {
                    pk.add(rs.getString("COLUMN_NAME") + " " + rs.getInt("KEY_SEQ") + " " + rs.getString("PK_NAME"));
                }
            }
            same(pk, List.of("id 1 readings_pkey"), "getPrimaryKeys");
            tested("DatabaseMetaData: getTables (tables, views, materialized views), getColumns, getPrimaryKeys");

            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.executeUpdate("DELETE FROM readings WHERE id > 4");
                conn.rollback();
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM readings")) {
                    rs.next();
                    same(rs.getLong(1), 8L, "rollback");
                }
            }
            conn.commit();
            conn.setAutoCommit(true);
            tested("transaction rollback with autocommit off");

            try (Statement st = conn.createStatement()) {
                st.executeQuery("SELECT * FROM nope");
                throw new AssertionError("no error for a missing table");
            } catch (SQLException e) {
                same(e.getSQLState(), "42P01", "SQLSTATE");
            }
            tested("errors carry SQLSTATE (42P01)");
        }
        System.out.println("ok");
    }

    static String env(String k, String d) {
        String v = System.getenv(k);
        return v == null ? d : v;
    }
}
