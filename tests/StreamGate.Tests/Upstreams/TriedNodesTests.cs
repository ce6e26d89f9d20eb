using StreamGate.Upstreams;

namespace StreamGate.Tests.Upstreams;

public class TriedNodesTests
{
    [Fact]
    public void EmptyContainsNothing()
    {
        var tried = default(TriedNodes);
        for (var i = 0; i < 200; i++)
        {
            Assert.False(tried.Contains(i));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(199)]
    public void AddedIndexIsContainedAndNoOther(int index)
    {
        var tried = default(TriedNodes);
        tried.Add(index, 200);
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(i == index, tried.Contains(i));
        }
    }

    [Fact]
    public void IndicesOnBothSidesOf64()
    {
        var tried = default(TriedNodes);
        int[] added = [0, 5, 63, 64, 70, 129];
        foreach (var index in added)
        {
            tried.Add(index, 130);
        }
        for (var i = 0; i < 130; i++)
        {
            Assert.Equal(added.Contains(i), tried.Contains(i));
        }
    }

    [Fact]
    public void ClearForgetsEverything()
    {
        var tried = default(TriedNodes);
        tried.Add(3, 100);
        tried.Add(90, 100);
        tried.Clear();
        Assert.False(tried.Contains(3));
        Assert.False(tried.Contains(90));
        tried.Add(90, 100);
        Assert.True(tried.Contains(90));
    }
}
