using System.Data.Common;
using System.Globalization;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Analytics;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// The segments' profiles on DuckDB: the run's customer statistics and predictions (their Parquet parts), the
/// optional users and products tables (<see cref="ProfileTableSource"/>), and — only when there is a products table —
/// the input order items, through the queries both backends share (<see cref="ProfileSql"/>).
/// </summary>
public sealed class DuckDbSegmentProfiler(
    IOptions<EmbeddedOptions> options, IOptions<ProfileOptions> profileOptions, IBucket bucket, ILogger<DuckDbSegmentProfiler> logger)
    : ISegmentProfiler
{
    /// <summary>What the profile's notes tell a user of the embedded backend who wants the missing tables.</summary>
    public const string HowToAdd = "give --users FILE and --products FILE (CSV or Parquet), or a DuckDB input with users and products tables";

    public Task<ProfilesDocument> ProfileAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            // The quartiles read the predictions into arrays: the prediction's own arrays, garbage now, make room first.
            StageGarbage.CollectIfLarge();
            using var stats = await bucket.OpenLocalPartsAsync(BucketLayout.CustomerStats(parameters.RunId), cancellationToken);
            using var predictions = await bucket.OpenLocalPartsAsync(BucketLayout.Predictions(parameters.RunId), cancellationToken);
            using var connection = DuckDb.Open(options.Value);
            // Attaching only names the input (and a DuckDB input's users and products tables): only the catalogue
            // breakdowns read its items, so without a products table not one order item is read.
            var typedCsv = OrderItemsSource.Attach(connection, options.Value.Input);
            var users = ProfileTableSource.AttachUsers(connection, options.Value);
            var products = ProfileTableSource.AttachProducts(connection, options.Value);
            logger.LogInformation("Profiling the segments of run {RunId} with users from {Users} and products from {Products}",
                parameters.RunId, users ?? "(none)", products ?? "(none)");
            cancellationToken.ThrowIfCancellationRequested();

            var sql = new ProfileSql(ProfileSqlDialect.DuckDb,
                new ProfileTables("order_items", DuckDb.ReadParquet(stats), DuckDb.ReadParquet(predictions),
                    users is null ? null : "users", products is null ? null : "products"),
                parameters.Metrics);
            ProfileFacts facts;
            try
            {
                facts = Query(connection, sql, parameters, users, products);
            }
            catch (DuckDBException) when (typedCsv)
            {
                // The fast typed CSV read met a value only the text read takes (BuildStats accepted the file, so it
                // has one: e.g. timestamps in more than one accepted format). Read it as BuildStats did.
                OrderItemsSource.AttachChecked(connection, options.Value.Input);
                facts = Query(connection, sql, parameters, users, products);
            }
            return ProfileAssembler.Build(parameters.RunId, model, facts, profileOptions.Value);
        }, cancellationToken);

    /// <summary>
    /// Runs the profile queries on a connection that has the tables <paramref name="sql"/> names; the predictions and the
    /// statistics are tables every connection to its database sees (files, or tables that are not TEMP).
    /// </summary>
    public static ProfileFacts Query(DuckDBConnection connection, ProfileSql sql, RunParameters parameters, string? users, string? products)
    {
        (string, object?)[] window =
        [
            ("window_start", parameters.WindowStart.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)),
            ("window_end", parameters.WindowEnd.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)),
        ];
        List<SegmentFacts> segments;
        SegmentColumns columns;
        if (users is null)
        {
            var aligned = AlignedTotals(connection, sql);
            (segments, columns) = (aligned.Segments ?? Rows(connection, sql.Segments(), [], SegmentRow), aligned.Columns);
        }
        else
        {
            (segments, columns) = (Segments(connection, sql), SegmentQuantiles.ReadColumns(connection, sql.Tables.Predictions, Features.All));
        }
        var quartiles = columns.Quantiles([.. ProfileSql.QuartileFractions.Select(q => q.Fraction)])
            .ToDictionary(q => q.Key, q => new RfmQuartiles(Quartiles(q.Value[0]), Quartiles(q.Value[1]), Quartiles(q.Value[2])));
        var people = sql.People() is { } peopleSql
            ? Rows(connection, peopleSql, [], r => new CellFacts((int)Long(r, 0), r.GetString(1), r.GetString(2), Long(r, 3), 0))
            : null;
        var catalogue = sql.Catalogue() is { } catalogueSql
            ? Rows(connection, catalogueSql, window, r => new CatalogueRow((int)Long(r, 0), Text(r, 1), Text(r, 2), Long(r, 3), Double(r, 4),
                Long(r, 5), Double(r, 6), Double(r, 7)))
            : null;
        return ProfileFacts.Combine(segments, quartiles, people, catalogue, users, products, HowToAdd);
    }

    /// <summary>
    /// The segments' totals with a users table: the predictions joined to the statistics by position (both are in user
    /// order) and to the users by id; should they ever not be aligned, by user id.
    /// </summary>
    private static List<SegmentFacts> Segments(DuckDBConnection connection, ProfileSql sql)
    {
        // A segment with a misaligned row (its last column) is wrong, and may have no id or no sums: not read.
        var aligned = Rows(connection, sql.Segments(aligned: true), [], r => Long(r, 7) == 0 ? SegmentRow(r) : null);
        return aligned.Contains(null) ? Rows(connection, sql.Segments(), [], SegmentRow) : [.. aligned.OfType<SegmentFacts>()];
    }

    /// <summary>
    /// The segments' totals without a join, when there is no users table: the predictions' ids, segments and features
    /// (what the quartiles read) and the statistics' ids and sums are read into arrays side by side, each on its own core
    /// (<see cref="DuckDbColumnReader.ReadBoth"/>; DuckDB runs a positional join on one), and summed by segment in row
    /// order when every row's two ids agree — both are in user order as the embedded backend writes them. Null totals
    /// when some row's ids differ: then only the join by id will do.
    /// </summary>
    private static (List<SegmentFacts>? Segments, SegmentColumns Columns) AlignedTotals(DuckDBConnection connection, ProfileSql sql)
    {
        var (predictions, stats) = (sql.Tables.Predictions, sql.Tables.CustomerStats);
        var rows = DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM {predictions}");
        var statsRows = DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM {stats}");
        var userIds = new long[rows];
        var columns = new SegmentColumns(new long[rows], [.. Features.All.Select(_ => new double[rows])]);
        // A null adds nothing to a sum, as in SQL's SUM.
        var (statsUserIds, items, orders, revenue) = (new long[statsRows], new long[statsRows], new long[statsRows], new double[statsRows]);
        DuckDbColumnReader.ReadBoth(connection,
            new(predictions, [("CAST(user_id AS BIGINT)", new(userIds)), .. SegmentQuantiles.Targets(columns, Features.All)]),
            new(stats,
            [
                ("CAST(user_id AS BIGINT)", new(statsUserIds)),
                ($"CAST(coalesce({BucketTables.ItemsCounted}, 0) AS BIGINT)", new(items)),
                ($"CAST(coalesce({BucketTables.DistinctOrders}, 0) AS BIGINT)", new(orders)),
                ($"CAST(coalesce({BucketTables.Revenue}, 0) AS DOUBLE)", new(revenue)),
            ]));
        if (!userIds.AsSpan().SequenceEqual(statsUserIds)) return (null, columns);

        var ids = columns.CentroidIds;
        // An id no segment has: the join's totals, and the quartiles' error.
        if (ids.Length > 0 && (ids.Min() < 1 || ids.Max() > GroupQuantiles.MaxGroup)) return (null, columns);
        var slots = ids.Length == 0 ? 0 : (int)ids.Max() + 1;
        var (customers, orderSums, itemSums, revenueSums) = (new long[slots], new long[slots], new long[slots], new double[slots]);
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            customers[id]++;
            orderSums[id] += orders[i];
            itemSums[id] += items[i];
            revenueSums[id] += revenue[i];
        }
        return ([.. Enumerable.Range(0, slots).Where(id => customers[id] > 0)
            .Select(id => new SegmentFacts(id, customers[id], orderSums[id], itemSums[id], revenueSums[id], 0, 0, 0, 0, 0))], columns);
    }

    private static SegmentFacts SegmentRow(DbDataReader r) =>
        new((int)Long(r, 0), Long(r, 1), Long(r, 2), Long(r, 3), Double(r, 4), Long(r, 5), Long(r, 6), 0, 0, 0);

    private static Quartiles Quartiles(double[] values) => new(values[0], values[1], values[2]);

    private static List<T> Rows<T>(DuckDBConnection connection, string sql, (string, object?)[] parameters, Func<DbDataReader, T> read)
    {
        var rows = new List<T>();
        using var command = DuckDb.Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        while (reader.Read()) rows.Add(read(reader));
        return rows;
    }

    // DuckDB sums integers as HUGEINT, which arrives as a BigInteger.
    private static long Long(DbDataReader reader, int ordinal) => reader.GetValue(ordinal) switch
    {
        System.Numerics.BigInteger big => (long)big,
        var value => Convert.ToInt64(value, CultureInfo.InvariantCulture),
    };

    private static string? Text(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static double Double(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? 0 : Convert.ToDouble(reader.GetValue(ordinal), CultureInfo.InvariantCulture);
}
