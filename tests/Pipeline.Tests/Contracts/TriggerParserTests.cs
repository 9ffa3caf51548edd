using System.Text;
using Pipeline.Core;

namespace Pipeline.Tests.Contracts;

public class TriggerParserTests
{
    private static readonly DateOnly Today = new(2026, 11, 28);
    private static readonly DateTimeOffset Published = new(2026, 11, 28, 6, 0, 0, TimeSpan.Zero);

    private static RunParameters Parse(string json) => TriggerParser.Parse(Encoding.UTF8.GetBytes(json), "1234567890", Published, Today);

    private static InvalidMessageException Rejects(string json) => Assert.Throws<InvalidMessageException>(() => Parse(json));

    [Fact]
    public void An_empty_trigger_takes_every_default()
    {
        var p = Parse("{}");
        Assert.Equal("2026-11-28T06-00-00Z-1234567890", p.RunId);
        Assert.Equal(new DateOnly(2026, 11, 28), p.WindowEnd);
        Assert.Equal(new DateOnly(2025, 11, 28), p.WindowStart);
        Assert.Equal(p.WindowEnd, p.AsOf);
        Assert.Equal(5, p.K);
        Assert.Equal(StatsPreset.Rfm, p.Metrics);
        Assert.Equal(42, p.Seed);
        Assert.Equal(0.2, p.TestFraction);
        Assert.Equal(p, TriggerParser.Parse(ReadOnlySpan<byte>.Empty, "1234567890", Published, Today) with { });
    }

    [Fact]
    public void A_full_trigger_is_read_as_written()
    {
        var p = Parse("""{"run_id":"lab-2022","window_start":"2022-01-01","window_end":"2023-01-01","as_of":"2023-01-15","k":"auto","metrics":"lab","seed":7,"test_fraction":0.25}""");
        Assert.Equal(new RunParameters("lab-2022", new(2022, 1, 1), new(2023, 1, 1), new(2023, 1, 15), null, StatsPreset.Lab, 7, 0.25), p);
    }

    [Fact]
    public void A_redelivered_trigger_names_the_same_run()
    {
        Assert.Equal(Parse("{}").RunId, Parse("{}").RunId);
        var other = TriggerParser.Parse("{}"u8, "1234567891", Published, Today);
        Assert.NotEqual(Parse("{}").RunId, other.RunId);
    }

    [Fact]
    public void The_parameters_round_trip_through_the_trigger_format()
    {
        var p = Parse("""{"run_id":"r1","window_start":"2022-01-01","window_end":"2023-01-01","k":7}""");
        Assert.Equal(p, TriggerParser.Parse(TriggerParser.Format(p), "x", Published, Today));
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("""{"k":5,"colour":"red"}""", "unknown field in the trigger: colour")]
    [InlineData("""{"k":"five"}""", "k must be a whole number")]
    [InlineData("""{"k":1}""", "k must be from 2 to 20, not 1")]
    [InlineData("""{"k":21}""", "k must be from 2 to 20, not 21")]
    [InlineData("""{"k":2.5}""", "k must be a whole number")]
    [InlineData("""{"window_start":"2023-01-01","window_end":"2022-01-01"}""", "window_end (2022-01-01) must be after window_start (2023-01-01)")]
    [InlineData("""{"window_start":"2023-01-01","window_end":"2023-01-01"}""", "must be after window_start")]
    [InlineData("""{"window_start":"01/02/2023"}""", "window_start must be a date")]
    [InlineData("""{"window_end":20230101}""", "window_end must be a date")]
    [InlineData("""{"metrics":"ltv"}""", "metrics must be \"rfm\" or \"lab\"")]
    [InlineData("""{"seed":-1}""", "seed must be a whole number")]
    [InlineData("""{"test_fraction":0.9}""", "test_fraction must be a number greater than 0 and at most 0.5")]
    [InlineData("""{"window_end":"2023-01-01","as_of":"2022-12-01"}""", "as_of (2022-12-01) must not be before window_end")]
    public void A_bad_trigger_is_a_permanent_error_naming_the_problem(string json, string reason)
    {
        Assert.Contains(reason, Rejects(json).Message);
    }

    [Fact]
    public void Errors_are_recorded_under_the_run_the_sender_named()
    {
        Assert.Equal("my-run", Rejects("""{"run_id":"my-run","k":99}""").RunId);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("has space")]
    [InlineData("-leading-dash")]
    [InlineData("")]
    public void An_unsafe_run_id_is_rejected_and_recorded_under_the_derived_id(string runId)
    {
        var error = Rejects($$"""{"run_id":"{{runId}}"}""");
        Assert.Contains("run_id", error.Message);
        Assert.Equal("2026-11-28T06-00-00Z-1234567890", error.RunId);
    }

    [Fact]
    public void Run_ids_are_safe_path_segments()
    {
        Assert.True(RunId.IsValid(RunId.New(Published)));
        Assert.True(RunId.IsValid(RunId.FromMessage("projects/x/messages/123:45", Published)));
        Assert.True(RunId.IsValid(RunId.FromMessage(new string('9', 200), Published)));
        Assert.False(RunId.IsValid(new string('a', 64)));
    }
}
