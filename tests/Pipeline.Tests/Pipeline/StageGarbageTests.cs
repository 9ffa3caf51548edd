using Pipeline.Core;

namespace Pipeline.Tests.Pipeline;

/// <summary>
/// A stage starts with a full collection only when earlier work left much on the managed heap
/// (<see cref="StageGarbage"/>): then the memory is free again for the stage's own arrays.
/// </summary>
[Collection(HeapTests.Name)]
public sealed class StageGarbageTests
{
    [Fact]
    public void A_heap_holding_more_than_the_threshold_is_collected_before_the_stage()
    {
        var collections = GC.CollectionCount(2);
        LeaveGarbage(96 << 20);

        var held = StageGarbage.CollectIfLarge(threshold: 32 << 20);

        Assert.NotNull(held);
        Assert.True(held >= 96 << 20, $"held {held} bytes");
        Assert.True(GC.CollectionCount(2) > collections, "no full collection");
        Assert.True(GC.GetTotalMemory(forceFullCollection: false) < held, "the garbage is still counted");
    }

    [Fact]
    public void A_small_heap_is_left_alone()
    {
        Assert.Null(StageGarbage.CollectIfLarge(threshold: long.MaxValue));
        Assert.Equal(64L << 20, StageGarbage.Threshold);
    }

    /// <summary>Arrays alive while they are made, as a stage's arrays while it runs, and nothing refers to once this returns.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void LeaveGarbage(int bytes)
    {
        var arrays = new List<byte[]>();
        for (var i = 0; i < bytes / (8 << 20); i++) arrays.Add(new byte[8 << 20]);
        GC.KeepAlive(arrays);
    }
}

/// <summary>Tests that measure the process's managed heap run alone: other tests' allocations and collections would change it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapTests
{
    public const string Name = "Heap";
}
