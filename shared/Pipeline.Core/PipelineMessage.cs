namespace Pipeline.Core;

/// <summary>
/// A message as a transport hands it to a function: the JSON body Pub/Sub carries in <c>data</c>, its attributes,
/// and the transport's id and publish time (which name a run when a trigger names none).
/// </summary>
public sealed record PipelineMessage(
    ReadOnlyMemory<byte> Data,
    IReadOnlyDictionary<string, string> Attributes,
    string MessageId,
    DateTimeOffset PublishTime);

/// <summary>A function of the chain: triggered by one topic, publishing the next.</summary>
public interface IPipelineFunction
{
    /// <summary>
    /// Handles one delivery. Returning normally acknowledges it (success, duplicate, or a permanent failure that was
    /// recorded); throwing means a transient failure and asks the transport to deliver again.
    /// </summary>
    Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken);
}

/// <summary>Publishes a message body with attributes to a logical topic.</summary>
public interface IMessagePublisher
{
    /// <summary>Publishes and returns the transport's message id.</summary>
    Task<string> PublishAsync(string topic, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> attributes,
        CancellationToken cancellationToken);
}
