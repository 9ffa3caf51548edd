using System.Text.Json.Nodes;

namespace Pipeline.Gcp.Tests;

/// <summary>Decoding of BigQuery's f/v rows by the schema, for every column type the pipeline reads.</summary>
public sealed class BigQueryRowTests
{
    private static BigQueryRow Row()
    {
        var page = JsonNode.Parse(Payload.Text("BigQuery/results-all-types.json"))!;
        return BigQueryRow.Decode(((JsonArray)page["rows"]!)[0]!, BigQueryField.ListFrom(page["schema"]));
    }

    [Fact]
    public void Every_column_type_decodes_to_its_dotnet_type()
    {
        var row = Row();

        Assert.Equal(-9007199254740993L, row.GetInt64("int64_col")); // beyond a double's exact range: INT64 arrives as a string
        Assert.Equal(125.0, row.GetDouble("float64_col"));
        Assert.Equal(123456789.123456789m, row["numeric_col"]);
        Assert.True(row.GetBoolean("bool_col"));
        Assert.Equal("Champions", row.GetString("string_col"));
        Assert.Equal("hello"u8.ToArray(), (byte[])row["bytes_col"]!);
        Assert.Equal(new DateOnly(2023, 1, 1), row["date_col"]);
        Assert.Equal(new DateTime(2023, 1, 1, 10, 11, 12, DateTimeKind.Utc).AddTicks(3456780), row["datetime_col"]);
        Assert.Equal(new TimeOnly(23, 59, 58, 500), row["time_col"]);
        Assert.Equal(DateTimeOffset.Parse("2023-01-01T00:00:00.123456Z", System.Globalization.CultureInfo.InvariantCulture), row["timestamp_col"]);
        Assert.True(row.IsNull("null_col"));
        Assert.Equal([0.5, 1.0, 2.75], row.GetDoubleList("quantiles"));
        Assert.True(double.IsNaN(row.GetDouble("nan_col")));
        Assert.Equal(-42L, row.GetInt64("negative_col"));
    }

    [Fact]
    public void A_repeated_record_decodes_to_nested_rows()
    {
        var nearest = (IReadOnlyList<object?>)Row()["nearest"]!;

        var first = Assert.IsType<BigQueryRow>(nearest[0]);
        Assert.Equal(2L, first.GetInt64("centroid_id"));
        Assert.Equal(0.25, first.GetDouble("DISTANCE")); // column names ignore case, as in GoogleSQL
        Assert.Equal(1.5, ((BigQueryRow)nearest[1]!).GetDouble("distance"));
    }

    [Fact]
    public void A_timestamp_without_useInt64Timestamp_decodes_from_floating_point_seconds()
    {
        var schema = new[] { new BigQueryField("t", "TIMESTAMP", "NULLABLE", []) };
        var row = BigQueryRow.Decode(JsonNode.Parse("""{"f": [{"v": "1.6725312E9"}]}""")!, schema);

        Assert.Equal(new DateTimeOffset(2023, 1, 1, 0, 0, 0, TimeSpan.Zero), row["t"]);
    }

    [Fact]
    public void Reading_a_null_as_a_number_names_the_column()
    {
        var error = Assert.Throws<InvalidCastException>(() => Row().GetInt64("null_col"));
        Assert.Contains("null_col", error.Message, StringComparison.Ordinal);
    }
}
