using Microsoft.Extensions.Logging;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// The embedded transport: carries the same JSON messages Pub/Sub would, inside one process. Published messages
/// queue up; <see cref="DrainAsync"/> delivers each to the function its topic triggers, retrying a transient failure
/// with backoff as a push subscription would, until nothing is left.
/// </summary>
public sealed class InProcessBus(ILogger<InProcessBus> logger) : IMessagePublisher
{
    private readonly Queue<(string Topic, PipelineMessage Message)> _pending = new();
    private readonly List<(string Topic, PipelineMessage Message)> _published = [];
    private readonly Lock _gate = new();
    private long _nextId;

    /// <summary>How many times a delivery is attempted before it is given up on (Pub/Sub's dead-lettering).</summary>
    public int MaxDeliveryAttempts { get; init; } = 3;

    /// <summary>The first retry's delay; each later one doubles it.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Every message published so far, in order.</summary>
    public IReadOnlyList<(string Topic, PipelineMessage Message)> Published
    {
        get { lock (_gate) return [.. _published]; }
    }

    public Task<string> PublishAsync(string topic, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> attributes,
        CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var id = (++_nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var message = new PipelineMessage(data.ToArray(), new Dictionary<string, string>(attributes), id, DateTimeOffset.UtcNow);
            _pending.Enqueue((topic, message));
            _published.Add((topic, message));
            return Task.FromResult(id);
        }
    }

    /// <summary>
    /// Delivers queued messages to <paramref name="functions"/> (by the topic each declares it is triggered by)
    /// until the queue is empty. Messages on topics no function listens to (run-completed, run-failed) stay in
    /// <see cref="Published"/> for the caller. Returns the deliveries given up on after every attempt failed.
    /// </summary>
    public async Task<IReadOnlyList<UndeliveredMessage>> DrainAsync(IEnumerable<IPipelineFunction> functions, CancellationToken cancellationToken)
    {
        var subscribers = functions.ToDictionary(f => PipelineFunctionAttribute.Of(f.GetType()).TriggeredBy);
        var undelivered = new List<UndeliveredMessage>();
        while (true)
        {
            (string Topic, PipelineMessage Message) next;
            lock (_gate)
            {
                if (!_pending.TryDequeue(out next)) break;
            }
            if (!subscribers.TryGetValue(next.Topic, out var function)) continue;

            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await function.HandleAsync(next.Message, cancellationToken);
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    if (attempt >= MaxDeliveryAttempts)
                    {
                        logger.LogError(e, "Gave up on message {MessageId} on {Topic} after {Attempts} attempts", next.Message.MessageId, next.Topic, attempt);
                        undelivered.Add(new UndeliveredMessage(next.Topic, next.Message, e));
                        break;
                    }
                    var delay = RetryDelay * Math.Pow(2, attempt - 1);
                    logger.LogWarning("Delivery {Attempt} of message {MessageId} on {Topic} failed ({Reason}); retrying in {Delay}",
                        attempt, next.Message.MessageId, next.Topic, e.Message, delay);
                    await Task.Delay(delay, cancellationToken);
                }
            }
        }
        return undelivered;
    }
}

/// <summary>A message whose every delivery attempt failed: what Pub/Sub would move to the dead-letter topic.</summary>
public sealed record UndeliveredMessage(string Topic, PipelineMessage Message, Exception LastError);
