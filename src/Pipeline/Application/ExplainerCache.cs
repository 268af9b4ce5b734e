using System.Collections.Concurrent;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Application;

/// <summary>
/// One <see cref="CamExplainer"/> per method/target/layers choice, made when first asked for and kept (an explainer
/// keeps what it measured about the model, e.g. its window reaches), so switching back and forth costs nothing.
/// Every explainer gets the same <paramref name="perturbation"/> options and faithfulness steps.
/// </summary>
public sealed class ExplainerCache(YoloModel model, PerturbationOptions? perturbation = null, int faithfulnessSteps = 0)
{
    private readonly ConcurrentDictionary<(string, string, string), Lazy<CamExplainer>> _made = new();

    /// <summary>Keeps an explainer made elsewhere as the one for its method, target and layers.</summary>
    public void Add(CamExplainer explainer) =>
        _made[(explainer.Method.Name, explainer.Target.Name, explainer.Layers.ToString())] = new Lazy<CamExplainer>(explainer);

    /// <summary>The explainer for <paramref name="controls"/>' method, target and layers.</summary>
    /// <exception cref="UserInputException">The method, target or layers are unknown.</exception>
    public CamExplainer Get(StreamControls controls)
    {
        var key = (controls.Method, controls.Target, controls.Layers);
        var lazy = _made.GetOrAdd(key, k => new Lazy<CamExplainer>(() => Make(k.Item1, k.Item2, k.Item3)));
        try
        {
            return lazy.Value;
        }
        catch (UserInputException)
        {
            _made.TryRemove(key, out _);
            throw;
        }
    }

    private CamExplainer Make(string method, string target, string layers)
    {
        return new CamExplainer(model, Named("method", method, CamMethod.Parse), Named("target", target, CamTarget.Parse),
            LayerSelection.Parse(layers, model), perturbation) { FaithfulnessSteps = faithfulnessSteps };
    }

    private static T Named<T>(string what, string value, Func<string, T> parse)
    {
        try
        {
            return parse(value);
        }
        catch (UserInputException e)
        {
            throw new UserInputException($"{what} '{value}': {e.Message}");
        }
    }
}
