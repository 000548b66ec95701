// pgjdbc (Debian's libpostgresql-jdbc-java) against OmenDB: CRUD with typed parameters, a
// transaction, a constraint error, a statement reused past the driver's server-prepare
// threshold. Exits non-zero on any mismatch.
//
//     javac -d OUT Scenario.java && java -cp postgresql.jar:OUT Scenario PORT PASSWORD
import java.math.BigDecimal;
import java.sql.*;

public class Scenario {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/omendb";
        try (Connection c = DriverManager.getConnection(url, "omendb", args[1])) {
            String version = c.getMetaData().getDatabaseProductVersion();
            check(version.startsWith("16.0"), "server version " + version);
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE acct (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, "
                        + "balance NUMERIC(12,2), opened DATE)");
            }
            try (PreparedStatement p = c.prepareStatement("INSERT INTO acct VALUES (?, ?, ?, ?)")) {
                for (int i = 1; i <= 20; i++) {
                    p.setLong(1, i);
                    p.setString(2, "o" + i);
                    p.setBigDecimal(3, new BigDecimal("10.50"));
                    p.setDate(4, Date.valueOf("2024-01-0" + (1 + i % 9)));
                    check(p.executeUpdate() == 1, "insert count");
                }
            }
            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement("UPDATE acct SET balance = balance + ? WHERE id = ?")) {
                p.setBigDecimal(1, new BigDecimal("-5"));
                p.setLong(2, 1);
                check(p.executeUpdate() == 1, "update count");
                p.setBigDecimal(1, new BigDecimal("5"));
                p.setLong(2, 2);
                check(p.executeUpdate() == 1, "update count");
            }
            c.commit();
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO acct VALUES (1, 'dup', 0, NULL)");
                throw new AssertionError("a duplicate key was accepted");
            } catch (SQLException e) {
                check("23505".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState());
                c.rollback();
            }
            c.setAutoCommit(true);
            try (PreparedStatement p = c.prepareStatement("SELECT owner, balance, opened FROM acct WHERE id = ?")) {
                for (int i = 0; i < 10; i++) {
                    p.setLong(1, 1 + i % 20);
                    try (ResultSet r = p.executeQuery()) {
                        check(r.next(), "a row");
                        check(r.getString(1).equals("o" + (1 + i % 20)), "owner");
                    }
                }
            }
            try (Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("SELECT count(*), sum(balance) FROM acct")) {
                check(r.next(), "a row");
                check(r.getLong(1) == 20, "count");
                check(r.getBigDecimal(2).compareTo(new BigDecimal("210.00")) == 0, "sum");
            }
        }
        System.out.println("done");
    }
}
